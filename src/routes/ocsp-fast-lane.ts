import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify'
import { toHttpError } from '../errors.js'
import { logRequestLine } from '../log-requests.js'
import type { KagiServices } from '../startup/services.js'
import { answerOcspConnections, type OcspConnectionLane } from './ocsp-connections.js'
import { ocspAnswerHeaders } from './ocsp.js'
import { isPlainOcspBody } from './ocsp-request-head.js'

type Handler = (request: IncomingMessage, response: ServerResponse) => void

/** The route label the metrics and the log give these requests: the same as Fastify's route. */
const ROUTE = '/ocsp'

/**
 * Whether the lane takes this request: the plain, well-formed case a
 * firewall sends, on every connection, thousands of times a second. Anything
 * else goes to Fastify untouched (its body not read), so that every odd case
 * (another content type, a query string, chunked or oversized bodies,
 * compressed bodies, a server shutting down) is answered in one place, the
 * route and the error handler.
 */
function takes(request: IncomingMessage, services: Pick<KagiServices, 'draining'>): boolean {
  if (request.method !== 'POST' || request.url !== ROUTE || services.draining) return false
  const headers = request.headers
  if (headers['transfer-encoding'] !== undefined || headers['content-encoding'] !== undefined) return false
  return isPlainOcspBody(headers['content-type'], headers['content-length'] === undefined ? undefined : Number(headers['content-length']))
}

/**
 * POST /ocsp answered by Node's HTTP server before Fastify routes it, on
 * the connections Node's server holds (those that began with another
 * request, or with a head kagi's own reader leaves to Node; connections
 * that begin with a plain `POST /ocsp` are answered on kagi's own,
 * ocsp-connections.ts, with the same answer).
 *
 * A fresh (nonce) OCSP answer is one ECDSA signature, about 35 µs here;
 * Fastify's routing, hooks and reply machinery around it cost some 10 % of
 * the server's CPU per answer (194–210 against 205–235 µs, measured with
 * process.cpuUsage per request under load, three alternating pairs), on a
 * route that VPN gateways ask on every connection. The lane does what the
 * route does (ocspAnswerHeaders: the metrics, "last seen", the headers; the
 * same OcspService answer) and what the app's hooks do for it (the request's
 * duration metric, its debug log line, the error table for a failure), and
 * nothing else.
 */
function ocspFastLane(services: LaneServices, answer: LaneAnswer, fastify: Handler): Handler {
  return (request, response) => {
    if (!takes(request, services)) return fastify(request, response)
    const started = performance.now()
    const body = Buffer.allocUnsafe(Number(request.headers['content-length']))
    let received = 0
    request.on('data', (chunk: Buffer) => {
      // Node's parser never delivers more than Content-Length; kept as a bound on the copy anyway.
      if (received + chunk.length > body.length) return void request.destroy()
      chunk.copy(body, received)
      received += chunk.length
    })
    // A client that goes away mid-body: nothing to answer.
    request.on('error', () => response.destroy())
    request.on('end', () => {
      void answer(body.subarray(0, received), started).then(({ status, headers, payload }) => {
        if (response.destroyed) return
        response.writeHead(status, { ...headers, 'content-length': String(payload.length) })
        response.end(payload)
      })
    })
  }
}

type LaneServices = Pick<KagiServices, 'draining' | 'metrics' | 'ocsp' | 'ocspChecks' | 'ocspTraffic'>

type LaneAnswer = OcspConnectionLane['answer']

/**
 * The lane's answer to one request body, whichever way the request came
 * (Node's request above, or kagi's own connection in ocsp-connections.ts):
 * the OCSP answer with its headers, or the error table's for a failure, and
 * what the app's hooks would do for it (the duration metric, the log line).
 * It never rejects.
 */
function laneAnswer(services: LaneServices, log: () => FastifyBaseLogger): LaneAnswer {
  return async (der, started) => {
    services.ocspTraffic.record()
    let status = 200
    let headers: Record<string, string>
    let payload: Buffer
    try {
      const reply = await services.ocsp.answer(der)
      headers = ocspAnswerHeaders(services, 'POST', reply, false)
      payload = reply.der
    } catch (error) {
      // The same answer the error handler gives a machine client (src/errors.ts), and the same log line.
      const failure = toHttpError(error)
      if (failure.internal) log().error({ err: error }, 'request failed')
      else log().info({ code: failure.body.error.code, status: failure.status }, 'request refused')
      status = failure.status
      headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }
      payload = Buffer.from(JSON.stringify(failure.body))
    }
    const ms = performance.now() - started
    services.metrics.request('POST', ROUTE, status, ms / 1000)
    logRequestLine(log(), { method: 'POST', url: ROUTE, route: ROUTE, status, ms })
    return { status, headers, payload }
  }
}

/**
 * Fastify's `serverFactory`: the HTTP server Fastify would make (its
 * timeouts included, as in fastify/lib/server.js), with the OCSP lane in
 * front of Fastify's handler, and kagi's own OCSP connections in front of
 * the server's (unless requests per socket are limited).
 */
export function serverWithOcspLane(services: LaneServices, log: () => FastifyBaseLogger) {
  return (handler: Handler, options: FastifyServerOptions): http.Server => {
    const answer = laneAnswer(services, log)
    const server = http.createServer(ocspFastLane(services, answer, handler))
    server.keepAliveTimeout = options.keepAliveTimeout!
    server.requestTimeout = options.requestTimeout!
    server.setTimeout(options.connectionTimeout!)
    if (options.maxRequestsPerSocket! > 0) server.maxRequestsPerSocket = options.maxRequestsPerSocket!
    // kagi's own OCSP connections count no requests per socket: with such a limit set, Node's server has them all.
    else answerOcspConnections(server, { answer, draining: () => services.draining })
    return server
  }
}
