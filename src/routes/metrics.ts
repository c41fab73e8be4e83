import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ApiError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import type { KagiServices } from '../startup/services.js'

/** Route label of requests no route matched (404s): one value, whatever the URL. */
const UNMATCHED = 'unmatched'

/**
 * Times every request into kagi_http_request_duration_seconds, labelled by
 * the route pattern (`/api/v1/certificates/:serial`), never the URL, so that
 * serials and scanners' made-up paths cannot grow the label set. Added on the
 * root instance before the routes, so it applies to all of them.
 */
export function timeRequests(app: FastifyInstance, metrics: Metrics): void {
  // A callback hook, not an async one: it runs on every request, and an async hook costs a promise each time.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.request(request.method, request.routeOptions.url ?? UNMATCHED, reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
}

/** True when the request carries `Authorization: Bearer <token>`; compared as SHA-256 digests, in constant time. */
function hasToken(request: FastifyRequest, token: string): boolean {
  const given = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1]
  if (!given) return false
  const digest = (text: string) => createHash('sha256').update(text).digest()
  return timingSafeEqual(digest(given), digest(token))
}

/**
 * GET /metrics: Prometheus text format. Open unless KAGI_METRICS_TOKEN is
 * set; then `Authorization: Bearer <KAGI_METRICS_TOKEN>` is required (401).
 */
export async function metricsRoutes(app: FastifyInstance, { services }: { services: Pick<KagiServices, 'config' | 'metrics'> }): Promise<void> {
  const token = services.config.metricsToken
  app.get('/metrics', async (request, reply) => {
    if (token && !hasToken(request, token)) throw new ApiError('unauthorized', 'GET /metrics needs Authorization: Bearer <KAGI_METRICS_TOKEN>')
    return reply.header('content-type', services.metrics.contentType).header('cache-control', 'no-store').send(await services.metrics.text())
  })
}
