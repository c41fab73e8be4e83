import type { FastifyRequest } from 'fastify'
import type { TokenRole } from '../db/token-repository.js'
import type { KagiServices } from '../startup/services.js'

/** What every route plugin receives: the services, and the one token check (one cache for all routes). */
export interface RouteOptions {
  services: KagiServices
  requireToken: (...roles: TokenRole[]) => (request: FastifyRequest) => Promise<void>
}
