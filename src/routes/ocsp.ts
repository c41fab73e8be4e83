import type { FastifyInstance, FastifyReply } from 'fastify'
import type { OcspReply } from '../revocation/ocsp-service.js'
import type { KagiServices } from '../startup/services.js'

/** Largest OCSP request accepted; a request for 100 certificates is far smaller. */
const MAX_REQUEST_BYTES = 16 * 1024

function send(services: KagiServices, reply: FastifyReply, answer: OcspReply, cacheable: boolean): FastifyReply {
  services.metrics.ocspAnswered(reply.request.method, answer.outcomes, answer.cached)
  services.ocspChecks.record(answer.checked)
  reply.header('content-type', 'application/ocsp-response')
  // RFC 5019 §6.2: GET answers may be cached by HTTP caches until nextUpdate; nonce answers never.
  if (cacheable && answer.cacheUntil) {
    reply.header('cache-control', `public, max-age=${Math.max(0, Math.floor((answer.cacheUntil.getTime() - Date.now()) / 1000))}, no-transform, must-revalidate`)
  } else reply.header('cache-control', 'no-store')
  return reply.send(answer.der)
}

/**
 * The OCSP responder over HTTP (RFC 6960 Appendix A): POST /ocsp with an
 * application/ocsp-request body (openssl, PAN-OS) and GET /ocsp/<url-encoded
 * base64 request> (NSS tries GET first). Malformed input gets a
 * malformedRequest OCSP response with HTTP 200, as the RFC specifies.
 */
export async function ocspRoutes(app: FastifyInstance, { services }: { services: KagiServices }): Promise<void> {
  app.addContentTypeParser('application/ocsp-request', { parseAs: 'buffer', bodyLimit: MAX_REQUEST_BYTES }, (_request, body, done) => done(null, body))
  app.post('/ocsp', { bodyLimit: MAX_REQUEST_BYTES }, async (request, reply) => {
    services.ocspTraffic.record()
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    return send(services, reply, await services.ocsp.answer(body), false)
  })
  app.get<{ Params: { '*': string } }>('/ocsp/*', async (request, reply) => {
    services.ocspTraffic.record()
    let der: Buffer
    try {
      // The path segment is URL-encoded base64 and may itself contain "/".
      der = Buffer.from(decodeURIComponent(request.params['*']), 'base64')
    } catch {
      der = Buffer.alloc(0)
    }
    if (der.length > MAX_REQUEST_BYTES) der = Buffer.alloc(0)
    return send(services, reply, await services.ocsp.answer(der), true)
  })
}
