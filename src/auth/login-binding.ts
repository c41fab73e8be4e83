import { inflateRawSync } from 'node:zlib'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { REQUEST_TTL_MS } from './saml-store.js'

/** The pre-login cookie: IDs of the AuthnRequests this browser started. */
export const LOGIN_BINDING_COOKIE = 'kagi_saml_request'
/** Sign-ins one browser may have under way at once (several tabs). */
const MAX_PENDING = 3
const ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{15,127}$/

/**
 * Binds each SAML sign-in to the browser that started it (login CSRF,
 * SAML 2.0 Profiles §4.1.4.3 and OWASP's SAML cheat sheet): without it, an
 * attacker starts a sign-in, gets a Response for their own account and makes
 * a victim's browser post it to the ACS, signing the victim in as the
 * attacker. The ACS accepts a Response only when its InResponseTo is one of
 * the request IDs in this browser's pre-login cookie.
 *
 * The IdP's POST to the ACS is a cross-site request, so on https the cookie
 * is `SameSite=None; Secure`. On plain http (a lab) `SameSite=None` is not
 * allowed, so the cookie has no SameSite attribute: browsers then send it
 * on that POST when the IdP is on the same site (e.g. both on 127.0.0.1)
 * and Chromium also within two minutes of setting it; otherwise sign-in on
 * http fails with "not started in this browser" and kagi needs https.
 */
export class LoginBinding {
  constructor(private readonly https: boolean) {}

  /** After the login redirect is built: adds its AuthnRequest ID to the browser's cookie. */
  remember(request: FastifyRequest, reply: FastifyReply): void {
    const id = authnRequestId(reply.getHeader('location'))
    if (!id) return
    const pending = [id, ...this.pending(request).filter((other) => other !== id)].slice(0, MAX_PENDING)
    reply.header('set-cookie', this.cookie(pending.join(' '), Math.floor(REQUEST_TTL_MS / 1000)))
  }

  /** True when the Response answers a request this browser started. */
  startedHere(request: FastifyRequest, inResponseTo: string): boolean {
    return this.pending(request).includes(inResponseTo)
  }

  /** After a sign-in: the cookie has done its work. */
  forget(reply: FastifyReply): void {
    reply.header('set-cookie', this.cookie('', 0))
  }

  private pending(request: FastifyRequest): string[] {
    const value = request.cookies?.[LOGIN_BINDING_COOKIE] ?? ''
    return value.split(' ').filter((id) => ID_PATTERN.test(id))
  }

  private cookie(value: string, maxAge: number): string {
    const site = this.https ? '; SameSite=None; Secure' : ''
    return `${LOGIN_BINDING_COOKIE}=${encodeURIComponent(value)}; Path=/auth/saml; Max-Age=${maxAge}; HttpOnly${site}`
  }
}

/** The ID of the AuthnRequest in an HTTP-Redirect binding URL (DEFLATE + base64, SAML 2.0 Bindings §3.4.4.1). */
export function authnRequestId(location: unknown): string | undefined {
  if (typeof location !== 'string') return undefined
  try {
    const encoded = new URL(location).searchParams.get('SAMLRequest')
    if (!encoded) return undefined
    const xml = inflateRawSync(Buffer.from(encoded, 'base64'), { maxOutputLength: 64 * 1024 }).toString('utf8')
    const id = /<(?:\w+:)?AuthnRequest\b[^>]*\sID="([^"]+)"/.exec(xml)?.[1]
    return id && ID_PATTERN.test(id) ? id : undefined
  } catch {
    return undefined
  }
}
