import type { FastifyInstance } from 'fastify'
import { openApiDocument } from '../openapi/document.js'
import type { KagiServices } from '../startup/services.js'

/**
 * GET /openapi.json: kagi's API as an OpenAPI 3.1 document, generated from
 * the operation catalogue and the routes' own zod schemas
 * (src/openapi/document.ts). Public, like the routes' shapes it describes;
 * built and serialised once per app.
 */
export async function openApiRoutes(app: FastifyInstance, { services }: { services: Pick<KagiServices, 'config'> }): Promise<void> {
  const body = JSON.stringify(openApiDocument(services.config))
  app.get('/openapi.json', async (_request, reply) =>
    reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'public, max-age=300').header('x-content-type-options', 'nosniff').send(body),
  )
}
