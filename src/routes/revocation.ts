import type { FastifyInstance, FastifyReply } from 'fastify'
import { ApiError } from '../errors.js'
import type { CrlPublisher } from '../revocation/crl-publisher.js'
import { parseRevokeRequest, revoke } from '../revocation/revoke.js'
import type { RouteOptions } from './route-options.js'

async function sendCrl(reply: FastifyReply, publisher: CrlPublisher, name: string): Promise<FastifyReply> {
  const crl = await publisher.get()
  if (!crl) throw new ApiError(404, 'not_found', `no ${name} CRL: kagi does not hold this CA's key (an imported CA without its root key)`)
  const maxAge = Math.max(0, Math.floor((crl.nextUpdate.getTime() - Date.now()) / 1000))
  // Caches may keep the CRL until its nextUpdate (RFC 5280 §5.1.2.5), not longer.
  return reply
    .header('content-type', 'application/pkix-crl')
    .header('cache-control', `public, max-age=${maxAge}`)
    .header('expires', crl.nextUpdate.toUTCString())
    .header('last-modified', crl.thisUpdate.toUTCString())
    .header('etag', `"crl-${crl.crlNumber}"`)
    .send(crl.der)
}

/** Revocation over HTTP: revoke (admin), and the CRLs (public, DER, as PAN-OS 8+ expects). */
export async function revocationRoutes(app: FastifyInstance, { services, requireToken }: RouteOptions): Promise<void> {
  app.post<{ Params: { serial: string } }>('/api/v1/certificates/:serial/revoke', { preHandler: requireToken('admin'), bodyLimit: 4096 }, async (request) => {
    const reason = parseRevokeRequest(request.body)
    const result = await revoke(services, request.params.serial, reason, `token:${request.principal!.name}`)
    request.log.info({ serial: result.serial, reason: result.reason, alreadyRevoked: result.alreadyRevoked }, 'certificate revoked')
    return { serial: result.serial, status: 'revoked', revokedAt: result.revokedAt.toISOString(), reason: result.reason, alreadyRevoked: result.alreadyRevoked }
  })
  app.get('/pki/crl', async (_request, reply) => sendCrl(reply, services.crl.issuing, 'issuing CA'))
  app.get('/pki/root.crl', async (_request, reply) => sendCrl(reply, services.crl.root, 'root'))
}
