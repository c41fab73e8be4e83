import { sql } from 'kysely'
import type { FastifyInstance } from 'fastify'
import type { KagiServices } from '../startup/services.js'

/**
 * GET /healthz: the process is up. GET /readyz: and the database answers,
 * and the process is not shutting down: from SIGTERM on it answers 503 (see
 * server.ts), so a load balancer stops sending requests while those in flight finish.
 */
export async function healthRoutes(app: FastifyInstance, { services }: { services: KagiServices }): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    if (services.draining) return reply.code(503).send({ error: { code: 'shutting_down', message: 'kagi is shutting down' } })
    try {
      await sql`select 1`.execute(services.db)
      return { status: 'ready' }
    } catch {
      return reply.code(503).send({ error: { code: 'database_unavailable', message: 'the database does not answer' } })
    }
  })
}
