import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

/**
 * A browser-like client for `app.inject`: keeps cookies and reads the CSRF
 * token out of the last page, so form posts look like the real page's.
 */
export class PageClient {
  private cookies = new Map<string, string>()
  csrf = ''
  constructor(
    private readonly app: FastifyInstance,
    private readonly headers: Record<string, string> = {},
  ) {}

  private remember(response: LightMyRequestResponse): LightMyRequestResponse {
    const set = response.headers['set-cookie']
    for (const line of Array.isArray(set) ? set : set ? [set] : []) {
      const [pair] = line.split(';')
      const [name, ...value] = pair!.split('=')
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name!.trim())
      else this.cookies.set(name!.trim(), value.join('='))
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(response.body)
    if (token) this.csrf = token[1]!
    return response
  }

  /** Another client with this one's cookies now: a second tab of the same browser, or a stolen cookie. */
  copy(): PageClient {
    const other = new PageClient(this.app, this.headers)
    for (const [name, value] of this.cookies) other.cookies.set(name, value)
    other.csrf = this.csrf
    return other
  }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.remember(await this.app.inject({ method: 'GET', url, headers: { ...this.headers, cookie: this.cookieHeader(), ...headers } }))
  }

  /** Posts a form with the current CSRF token unless `_csrf` is given (use '' to send none). */
  async post(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const fields = { _csrf: this.csrf, ...form }
    if (fields._csrf === '') delete (fields as Record<string, string>)._csrf
    return this.remember(
      await this.app.inject({
        method: 'POST',
        url,
        payload: new URLSearchParams(fields).toString(),
        headers: { ...this.headers, 'content-type': 'application/x-www-form-urlencoded', cookie: this.cookieHeader(), ...headers },
      }),
    )
  }

  /** Signs in through the development form. */
  async devSignIn(email: string, admin = false): Promise<LightMyRequestResponse> {
    await this.get('/')
    return this.post('/auth/dev-login', admin ? { email, admin: 'yes' } : { email })
  }
}
