import type { FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { findToken, hashToken, touchToken, type TokenRole } from '../db/token-repository.js'
import { ApiError } from '../errors.js'

/** The caller behind a valid API token. */
export interface TokenPrincipal {
  id: string
  name: string
  role: TokenRole
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: TokenPrincipal
  }
}

/** How long a verified token is trusted without asking the database again (a revoked token stops within this). */
export const TOKEN_CACHE_MS = 10_000
const MAX_CACHED = 1000

/**
 * The token of `Authorization: Bearer <token>`, or the password of
 * `Authorization: Basic` (RFC 7617), which is how NDES clients (the
 * GlobalProtect portal, Jamf Pro, Fleet) send their credentials to
 * /certsrv/mscep_admin/; the user name is ignored.
 */
function tokenOf(header: string | undefined): string | undefined {
  const bearer = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
  if (bearer) return bearer[1]
  const basic = header ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null
  if (!basic) return undefined
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon >= 0 && colon < decoded.length - 1 ? decoded.slice(colon + 1) : undefined
}

/**
 * Builds a preHandler that requires `Authorization: Bearer <token>` (or Basic, see {@link tokenOf}) with one
 * of `roles`. 401 without a valid token, 403 with a token of another role.
 * The token itself is never logged.
 */
export function tokenAuth(db: Kysely<Database>): (...roles: TokenRole[]) => (request: FastifyRequest) => Promise<void> {
  const cache = new Map<string, { principal: TokenPrincipal | undefined; until: number }>()
  async function lookup(token: string): Promise<TokenPrincipal | undefined> {
    const key = hashToken(token)
    const now = Date.now()
    const hit = cache.get(key)
    if (hit && hit.until > now) return hit.principal
    const row = await findToken(db, token)
    // "Last used" for the token list; only on a cache miss, so at most once per TOKEN_CACHE_MS per token.
    if (row) await touchToken(db, row.id)
    if (cache.size >= MAX_CACHED) cache.clear()
    const principal = row ? { id: row.id, name: row.name, role: row.role } : undefined
    cache.set(key, { principal, until: now + TOKEN_CACHE_MS })
    return principal
  }
  return (...roles: TokenRole[]) =>
    async function requireToken(request: FastifyRequest): Promise<void> {
      const token = tokenOf(request.headers.authorization)
      if (!token) throw new ApiError('unauthorized', 'an API token is required: Authorization: Bearer <token> (create one with `kagi token create`)')
      const principal = await lookup(token)
      if (!principal) throw new ApiError('unauthorized', 'the API token is not valid or has been revoked')
      if (!roles.includes(principal.role)) throw new ApiError('forbidden', `this needs a token with role ${roles.join(' or ')}; yours is ${principal.role}`)
      request.principal = principal
    }
}
