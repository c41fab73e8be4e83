import { sql } from 'kysely'
import type { FastifyInstance } from 'fastify'
import type { KagiServices } from '../startup/services.js'

/** GET /healthz: the process is up. GET /readyz: and the database answers. */
export async function healthRoutes(app: FastifyInstance, { services }: { services: KagiServices }): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    try {
      await sql`select 1`.execute(services.db)
      return { status: 'ready' }
    } catch {
      return reply.code(503).send({ error: { code: 'database_unavailable', message: 'the database does not answer' } })
    }
  })
}
