import type { FastifyInstance } from 'fastify'
import { openApiDocument } from '../openapi/document.js'
import type { KagiServices } from '../startup/services.js'

/**
 * GET /openapi.json: kagi's API as an OpenAPI 3.1 document, generated from
 * the operation catalogue and the routes' own zod schemas
 * (src/openapi/document.ts). Public, like the routes' shapes it describes;
 * built and serialised once per app, on the first request: generating it
 * takes about 0.1 s of CPU, which start-up does not need to spend.
 */
export async function openApiRoutes(app: FastifyInstance, { services }: { services: Pick<KagiServices, 'config'> }): Promise<void> {
  let body: string | undefined
  app.get('/openapi.json', async (_request, reply) => {
    body ??= JSON.stringify(openApiDocument(services.config))
    return reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'public, max-age=300').header('x-content-type-options', 'nosniff').send(body)
  })
}
