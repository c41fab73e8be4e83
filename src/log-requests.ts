import { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'

/**
 * A request slower than this is logged at `warn` whatever the log level: well
 * above what an issuance with a server-side RSA-2048 key, an OCSP answer or a
 * page takes, so a line means something is wrong (a saturated pool, a slow disk).
 */
export const SLOW_REQUEST_MS = 1_000

/** Log levels at which `debug` lines are written. */
const DEBUG_LEVELS = new Set(['debug', 'trace'])

/**
 * One line per request, written when the answer has been sent: at `error`
 * for a 5xx, at `warn` for a request slower than {@link SLOW_REQUEST_MS},
 * otherwise at `debug` (so only with KAGI_LOG_LEVEL=debug or trace). Refusals
 * (4xx) are already logged at `info` by the error handler with their error code.
 * The path is logged without its query string (SCEP's `message=` carries requests).
 * Fastify's own two lines per request are left out by {@link RequestLines}.
 */
export function logRequests(app: FastifyInstance): void {
  // A callback hook (see timeRequests in routes/metrics.ts): no promise per request.
  app.addHook('onResponse', (request, reply, done) => {
    logRequestLine(request.log, { method: request.method, url: request.url, route: request.routeOptions.url, status: reply.statusCode, ms: reply.elapsedTime })
    done()
  })
}

/** Writes one request's line (see {@link logRequests}); also used by the OCSP fast lane, which Fastify does not see. */
export function logRequestLine(log: FastifyBaseLogger, line: { method: string; url: string; route: string | undefined; status: number; ms: number }): void {
  const level = line.status >= 500 ? 'error' : line.ms >= SLOW_REQUEST_MS ? 'warn' : 'debug'
  // Most requests are debug lines that are not written: do not build them.
  if (level === 'debug' && !DEBUG_LEVELS.has(log.level)) return
  log[level]({ method: line.method, url: line.url.split('?')[0], route: line.route, status: line.status, ms: Math.round(line.ms) }, 'request')
}

/**
 * Fastify's internal log lines without its "incoming request" and "request
 * completed" at `info` for every request ({@link logRequests} writes one line
 * instead); its error lines (a failed response stream, a serializer error) stay.
 */
export class RequestLines extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) super.requestCompleted(error, request, reply)
  }
}
