import type { Server as HttpsServer } from 'node:https'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import { derToPem } from '../../ca/index.js'
import type { Credential } from '../use-cases/service-credentials.js'
import { logRequests, RequestLines } from '../log-requests.js'
import { checkRoutes } from '../web/check-routes.js'
import { replyNotFound, replyWithError } from '../web/error-page.js'
import { faviconRoutes } from '../web/favicon.js'
import type { KagiServices } from './services.js'

/** A running check listener. */
export interface CheckListener {
  /** The page's address (config.check.url). */
  url: string
  /** Loads the current certificate and, when it was renewed, serves it to new connections; true when it changed. */
  renew(): Promise<boolean>
  close(): Promise<void>
}

/** How often the listener asks for its certificate: renewal happens 10 days before expiry, so an hour is plenty. */
const RENEW_CHECK_MS = 3_600_000

function tlsOptions(credential: Credential, chainPem: string) {
  return {
    key: credential.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    // The leaf and the issuing CA; the root is what the device already trusts.
    cert: derToPem(credential.certificate, 'CERTIFICATE') + derToPem(credential.chain[0]!, 'CERTIFICATE'),
    // Its subjects go in the CertificateRequest's certificate_authorities (RFC 8446 §4.2.4,
    // RFC 5246 §7.4.4), so the browser's picker offers only kagi's certificates.
    ca: chainPem,
  }
}

/**
 * The "check my device" listener (KAGI_CHECK_LISTEN): HTTPS with kagi's own
 * tls-server certificate for KAGI_CHECK_HOSTNAME, asking every client for a
 * certificate and never refusing the handshake (`rejectUnauthorized: false`):
 * the page explains a missing or wrong certificate, which a failed handshake
 * cannot. GET /check (src/web/check-routes.ts) judges the certificate.
 * Undefined when the listener is not configured.
 */
export async function startCheckListener(services: KagiServices, options: { logger?: FastifyBaseLogger; renewCheckMs?: number } = {}): Promise<CheckListener | undefined> {
  const listen = services.config.check?.listen
  const tls = services.checkListenerTls
  if (!listen || !tls) return undefined
  let current = await tls.get()
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    https: { ...tlsOptions(current, services.chainPem), requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    return503OnClosing: true,
    // The main app's log policy: one line per request, at debug unless slow or failed (log-requests.ts).
    logController: new RequestLines(),
  })
  logRequests(app)
  app.setErrorHandler((error, request, reply) => replyWithError(error, request, reply))
  app.setNotFoundHandler(replyNotFound)
  await app.register(faviconRoutes)
  await app.register(checkRoutes, { services, source: 'tls' })
  await app.listen({ host: listen.host, port: listen.port })

  async function renew(): Promise<boolean> {
    const next = await tls!.get()
    if (next === current) return false
    current = next
    // New handshakes get the new certificate; open connections keep theirs.
    ;(app.server as unknown as HttpsServer).setSecureContext(tlsOptions(next, services.chainPem))
    app.log.info({ notAfter: next.notAfter.toISOString() }, 'check listener certificate renewed')
    return true
  }
  const timer = setInterval(() => renew().catch((error) => app.log.error({ err: error }, 'check listener certificate renewal failed')), options.renewCheckMs ?? RENEW_CHECK_MS)
  timer.unref()
  return {
    url: services.config.check!.url,
    renew,
    async close() {
      clearInterval(timer)
      await app.close()
    },
  }
}
