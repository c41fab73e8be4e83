import compress from '@fastify/compress'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { tokenAuth } from './auth/bearer.js'
import { replyNotFound, replyWithError } from './web/error-page.js'
import { parseQueryString } from './schemas/query-string.js'
import { certificateRoutes } from './routes/api-v1-certificates.js'
import { healthRoutes } from './routes/health.js'
import { metricsRoutes, timeRequests } from './routes/metrics.js'
import { logRequests, RequestLines } from './log-requests.js'
import { pkiRoutes } from './routes/pki.js'
import { ocspRoutes } from './routes/ocsp.js'
import { serverWithOcspLane } from './routes/ocsp-fast-lane.js'
import { scepRoutes } from './routes/scep.js'
import { scepChallengeRoutes } from './routes/api-v1-scep.js'
import { certsrvRoutes } from './routes/certsrv.js'
import { mdmRoutes } from './routes/api-v1-mdm.js'
import { userRoutes } from './routes/api-v1-users.js'
import { adminDeviceRoutes } from './routes/api-v1-admin-devices.js'
import { auditRoutes } from './routes/api-v1-audit.js'
import { openApiRoutes } from './routes/openapi.js'
import { docsRoutes } from './routes/docs.js'
import type { KagiServices } from './startup/services.js'
import { faviconRoutes } from './web/favicon.js'
import { checkRoutes } from './web/check-routes.js'
import { signInMode, webRoutes } from './web/routes.js'

/** Log paths that must never be written (see log.ts); exported here for callers that build the app. */
export { redactPaths } from './log.js'

/** KAGI_TRUST_PROXY as Fastify's option: a hop count trusts the nearest `n` hops (proxy-addr semantics). */
function trustProxyOption(setting: number | string[] | undefined): Pick<FastifyServerOptions, 'trustProxy'> {
  if (setting === undefined) return {}
  if (typeof setting === 'number') return { trustProxy: (_address: string, hop: number) => hop < setting }
  return { trustProxy: setting }
}

/** Options for building the app; `logger` follows Fastify's. */
export interface AppOptions {
  logger?: FastifyServerOptions['logger']
  /** A ready pino logger (the server shares it with the services). */
  loggerInstance?: FastifyBaseLogger
}

/**
 * Builds the Fastify application around ready services (config, database,
 * CA). It does not listen: server.ts does, tests use `inject`.
 */
export async function buildApp(services: KagiServices, options: AppOptions = {}): Promise<FastifyInstance> {
  // Checked before anything is built: production without SAML must not start.
  signInMode(services.config)
  const app: FastifyInstance = Fastify({
    ...(options.loggerInstance ? { loggerInstance: options.loggerInstance } : { logger: options.logger ?? false }),
    bodyLimit: 1024 * 1024,
    routerOptions: { querystringParser: parseQueryString },
    // KAGI_TRUST_PROXY: behind a load balancer, request.ip is the client's (X-Forwarded-For from those proxies only).
    ...trustProxyOption(services.config.trustProxy),
    return503OnClosing: true,
    // One line per request from logRequests (log-requests.ts), not Fastify's two at info.
    logController: new RequestLines(),
    // POST /ocsp is answered before Fastify routes it (routes/ocsp-fast-lane.ts); `app` is read only per request.
    serverFactory: serverWithOcspLane(services, (): FastifyBaseLogger => app.log),
  })

  // The API speaks JSON only; any other body type gets 415 rather than a confusing validation error.
  app.removeContentTypeParser('text/plain')

  // HTML, text, JSON, CSV and XML answers are compressed (brotli at quality 4, or gzip) above 1 KiB; DER, PKCS#12 and
  // ZIP are left alone (already dense, and OCSP and SCEP clients do not ask for it). BREACH needs an attacker's
  // requests to carry the victim's cookie: the session cookie is SameSite=Lax, so cross-site subrequests do not.
  // It hooks routes as they are added (onRoute), so Fastify's 404 pages stay uncompressed.
  await app.register(compress, { global: true, threshold: 1024, customTypes: /^(text\/|application\/(json|xml|problem\+json|samlmetadata\+xml)(;|$))/ })
  // One answer for every failure: JSON for the API, OCSP, SCEP and JSON clients, a page in the browser's language otherwise.
  app.setErrorHandler((error, request, reply) => replyWithError(error, request, reply))
  app.setNotFoundHandler(replyNotFound)
  timeRequests(app, services.metrics)
  logRequests(app)

  await app.register(healthRoutes, { services })
  await app.register(metricsRoutes, { services })
  await app.register(pkiRoutes, { services })
  const requireToken = tokenAuth(services.db)
  await app.register(certificateRoutes, { services, requireToken })
  await app.register(ocspRoutes, { services })
  await app.register(scepRoutes, { services })
  await app.register(scepChallengeRoutes, { services, requireToken })
  await app.register(certsrvRoutes, { services, requireToken })
  await app.register(mdmRoutes, { services, requireToken })
  await app.register(userRoutes, { services, requireToken })
  await app.register(adminDeviceRoutes, { services, requireToken })
  await app.register(auditRoutes, { services, requireToken })
  await app.register(openApiRoutes, { services })
  await app.register(docsRoutes, { services })
  await app.register(faviconRoutes)
  await app.register(webRoutes, { services })
  // GET /check with the certificate a trusted proxy forwards (KAGI_CHECK_CERT_HEADER); nothing when unset.
  await app.register(checkRoutes, { services })
  return app
}
