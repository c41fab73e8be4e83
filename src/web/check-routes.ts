import type { TLSSocket } from 'node:tls'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { KagiServices } from '../startup/services.js'
import { certificateChecker } from './check-certificate.js'
import { trustedPeer } from './check-trust.js'
import { checkView } from './check-view.js'
import { LANG_COOKIE, pageContext } from './error-page.js'
import { sendPage, type PageContext } from './html.js'
import { chooseLang } from './i18n.js'
import { localPath } from './local-path.js'
import { detectPlatform } from './platform.js'

/** Where GET /check reads the browser's certificate from. */
export type CheckSource =
  /** The TLS handshake of kagi's own check listener (src/startup/check-listener.ts). */
  | 'tls'
  /** KAGI_CHECK_CERT_HEADER, set by a TLS-terminating proxy of KAGI_TRUST_PROXY (the main app). */
  | 'header'

/**
 * A certificate from a proxy's header: nginx's `$ssl_client_escaped_cert`
 * (URL-encoded PEM), a PEM (nginx's older `$ssl_client_cert` folds it with
 * tabs), or bare base64 DER. Undefined when the header is absent or empty
 * (nginx sends "" when the client sent none); `invalid` when it holds
 * something else.
 */
export function certificateFromHeader(value: string | string[] | undefined): Buffer | undefined | 'invalid' {
  if (value === undefined) return undefined
  // A proxy sets the header once; two values mean someone added one on the way.
  if (Array.isArray(value)) return 'invalid'
  let text = value.trim()
  if (text === '' || text === '(null)' || text === '-') return undefined
  if (/%[0-9A-Fa-f]{2}/.test(text)) {
    try {
      text = decodeURIComponent(text)
    } catch {
      return 'invalid'
    }
  }
  const pem = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text)
  const base64 = (pem ? pem[1]! : text).replace(/\s+/g, '')
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return 'invalid'
  return Buffer.from(base64, 'base64')
}

/** The language cookie from a Cookie header, where no cookie plugin parsed it (the check listener). */
function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=')
    if (key === name) return rest.join('=')
  }
  return undefined
}

function context(request: FastifyRequest): PageContext {
  const ctx = pageContext(request)
  return request.cookies ? ctx : { ...ctx, lang: chooseLang(request.headers['accept-language'], cookieValue(request.headers.cookie, LANG_COOKIE)) }
}

/**
 * GET /check, the "check my device" page (README "Check my device"). On the
 * main app only when KAGI_CHECK_CERT_HEADER is set; on the check listener
 * with the certificate of its own handshake, plus the language switch (the
 * listener has no other routes).
 */
export async function checkRoutes(app: FastifyInstance, { services, source }: { services: KagiServices; source?: CheckSource }): Promise<void> {
  const { config } = services
  const from = source ?? 'header'
  const header = config.check?.certHeader
  if (from === 'header' && !header) return
  const check = certificateChecker(services.db, [services.ca.issuing, ...services.ca.retiredIssuing])
  const trusted = trustedPeer(config.trustProxy)

  function presented(request: FastifyRequest): Buffer | undefined {
    if (from === 'tls') {
      const socket = request.raw.socket as TLSSocket
      return socket.getPeerX509Certificate?.()?.raw
    }
    const value = request.headers[header!]
    if (value === undefined) return undefined
    // Only a trusted proxy's word counts; a client's own header is ignored (it then presented nothing).
    if (!trusted(request.socket.remoteAddress)) {
      request.log.warn({ peer: request.socket.remoteAddress, header }, 'client certificate header from an untrusted address ignored')
      return undefined
    }
    const der = certificateFromHeader(value)
    if (der === 'invalid') {
      request.log.warn({ header }, 'the client certificate header holds no certificate: check the proxy configuration (README "Check my device")')
      return undefined
    }
    return der
  }

  app.get('/check', async (request, reply) => {
    const outcome = await check(presented(request))
    request.log.info({ outcome: outcome.kind, serial: 'certificate' in outcome ? outcome.certificate.serial : undefined }, 'device checked')
    const ctx = context(request)
    const model = { outcome, browserPlatform: detectPlatform(request.headers['user-agent']), caName: config.caName, devicePageUrl: `${config.publicUrl}/` }
    return sendPage(reply, ctx, checkView(ctx, model))
  })

  if (from === 'tls') {
    app.get<{ Params: { lang: string }; Querystring: { back?: string } }>('/lang/:lang', async (request, reply) => {
      const lang = request.params.lang === 'ja' ? 'ja' : 'en'
      return reply.header('set-cookie', `${LANG_COOKIE}=${lang}; Path=/; Max-Age=31536000; SameSite=Lax; Secure`).redirect(localPath(request.query.back), 303)
    })
    app.get('/', async (_request, reply) => reply.redirect('/check', 303))
  }
}
