import type { FastifyInstance } from 'fastify'
import { createRecordChallenge } from '../use-cases/scep-challenges.js'
import type { RouteOptions } from './route-options.js'

/**
 * POST /api/v1/scep/challenges (mdm or admin token): a one-time SCEP
 * challenge bound to one user, optionally one device, and one profile.
 * 201 `{ challenge, expiresAt }`; the challenge is shown here only.
 */
export async function scepChallengeRoutes(app: FastifyInstance, { services, requireToken }: RouteOptions): Promise<void> {
  app.post('/api/v1/scep/challenges', { preHandler: requireToken('mdm', 'admin') }, async (request, reply) => {
    const principal = request.principal!
    const issued = await createRecordChallenge(services, request.body, { tokenId: principal.id, label: `token:${principal.name}`, clientIp: request.ip })
    reply.header('cache-control', 'no-store')
    return reply.code(201).send({ challenge: issued.challenge, expiresAt: issued.expiresAt.toISOString() })
  })
}
