import type { FastifyInstance, FastifyReply } from 'fastify'
import { ApiError } from '../errors.js'
import type { CrlPublisher } from '../revocation/crl-publisher.js'
import type { KagiServices } from '../startup/services.js'

async function sendCrl(reply: FastifyReply, publisher: CrlPublisher, name: string): Promise<FastifyReply> {
  const crl = await publisher.get()
  if (!crl) throw new ApiError('not_found', `no ${name} CRL: kagi does not hold this CA's key (an imported CA without its root key)`)
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

/**
 * /pki: public CA material, no authentication. The root and issuing CA
 * certificates as DER (RFC 5280 §4.2.2.1 caIssuers points here), the chain
 * as PEM, and the CRLs as DER (RFC 5280 §4.2.1.13 distribution point; PAN-OS
 * 8+ expects DER).
 */
export async function pkiRoutes(app: FastifyInstance, { services }: { services: KagiServices }): Promise<void> {
  const cacheControl = 'public, max-age=3600'
  app.get('/pki/root.crt', async (_request, reply) =>
    reply.header('content-type', 'application/pkix-cert').header('cache-control', cacheControl).header('content-disposition', 'attachment; filename="root.crt"').send(services.ca.root.der),
  )
  app.get('/pki/issuing.crt', async (_request, reply) =>
    reply.header('content-type', 'application/pkix-cert').header('cache-control', cacheControl).header('content-disposition', 'attachment; filename="issuing.crt"').send(services.ca.issuing.der),
  )
  app.get('/pki/chain.pem', async (_request, reply) =>
    reply.header('content-type', 'application/x-pem-file').header('cache-control', cacheControl).send(services.chainPem),
  )
  app.get('/pki/crl', async (_request, reply) => sendCrl(reply, services.crl.issuing, 'issuing CA'))
  app.get('/pki/root.crl', async (_request, reply) => sendCrl(reply, services.crl.root, 'root'))
}
