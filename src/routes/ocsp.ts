import type { FastifyInstance } from 'fastify'
import type { OcspReply } from '../revocation/ocsp-service.js'
import type { KagiServices } from '../startup/services.js'

/** Largest OCSP request accepted; a request for 100 certificates is far smaller. */
export const MAX_OCSP_REQUEST_BYTES = 16 * 1024

/**
 * OCSP bodies are dense DER that no OCSP client sends or accepts compressed:
 * the routes skip @fastify/compress's hooks, which cost every fresh answer
 * a little of the time its signature takes.
 */
const UNCOMPRESSED = { compress: false, decompress: false } as const

/**
 * What every OCSP answer does besides its bytes, whichever way it was
 * served (these routes, or the POST fast lane in ocsp-fast-lane.ts): the
 * metrics, "last seen by the VPN", and its headers.
 */
export function ocspAnswerHeaders(services: Pick<KagiServices, 'metrics' | 'ocspChecks'>, method: string, answer: OcspReply, cacheable: boolean): Record<string, string> {
  services.metrics.ocspAnswered(method, answer.outcomes, answer.cached)
  services.ocspChecks.record(answer.checked)
  // RFC 5019 §6.2: GET answers may be cached by HTTP caches until nextUpdate; nonce answers never.
  const cacheControl =
    cacheable && answer.cacheUntil ? `public, max-age=${Math.max(0, Math.floor((answer.cacheUntil.getTime() - Date.now()) / 1000))}, no-transform, must-revalidate` : 'no-store'
  return { 'content-type': 'application/ocsp-response', 'cache-control': cacheControl }
}

/**
 * The OCSP responder over HTTP (RFC 6960 Appendix A): POST /ocsp with an
 * application/ocsp-request body (openssl, PAN-OS) and GET /ocsp/<url-encoded
 * base64 request> (NSS tries GET first). Malformed input gets a
 * malformedRequest OCSP response with HTTP 200, as the RFC specifies.
 * A listening server takes the common POST before Fastify does
 * (ocsp-fast-lane.ts); this route answers the rest and every `inject`.
 */
export async function ocspRoutes(app: FastifyInstance, { services }: { services: KagiServices }): Promise<void> {
  app.addContentTypeParser('application/ocsp-request', { parseAs: 'buffer', bodyLimit: MAX_OCSP_REQUEST_BYTES }, (_request, body, done) => done(null, body))
  app.post('/ocsp', { bodyLimit: MAX_OCSP_REQUEST_BYTES, ...UNCOMPRESSED }, async (request, reply) => {
    services.ocspTraffic.record()
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    const answer = await services.ocsp.answer(body)
    return reply.headers(ocspAnswerHeaders(services, 'POST', answer, false)).send(answer.der)
  })
  app.get<{ Params: { '*': string } }>('/ocsp/*', UNCOMPRESSED, async (request, reply) => {
    services.ocspTraffic.record()
    let der: Buffer
    try {
      // The path segment is URL-encoded base64 and may itself contain "/".
      der = Buffer.from(decodeURIComponent(request.params['*']), 'base64')
    } catch {
      der = Buffer.alloc(0)
    }
    if (der.length > MAX_OCSP_REQUEST_BYTES) der = Buffer.alloc(0)
    const answer = await services.ocsp.answer(der)
    return reply.headers(ocspAnswerHeaders(services, 'GET', answer, true)).send(answer.der)
  })
}
