import type { FastifyInstance } from 'fastify'
import type { KagiServices } from '../services.js'

/**
 * Public CA material, no authentication (RFC 5280 §4.2.2.1 caIssuers points
 * here): the root and issuing CA certificates as DER, and the chain as PEM.
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
}
