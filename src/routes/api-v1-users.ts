import type { FastifyInstance } from 'fastify'
import { findUsers, userDetail, type UserSummary } from '../db/admin-queries.js'
import { notFound } from '../errors.js'
import { pageLimit, revokeUserBody, userListQuery, userParam } from '../schemas/admin.js'
import { parseOrBadRequest } from '../schemas/parse.js'
import { revokeUser } from '../use-cases/offboard.js'
import { sendCsv, wantsCsv, type CsvColumn } from './csv.js'
import type { RouteOptions } from './route-options.js'

/** Columns of the user export (the JSON list's fields). */
export const userCsvColumns: readonly CsvColumn<UserSummary>[] = [
  { header: 'email', value: (u) => u.email },
  { header: 'displayName', value: (u) => u.displayName },
  { header: 'devices', value: (u) => u.devices },
  { header: 'activeCertificates', value: (u) => u.activeCertificates },
  { header: 'createdAt', value: (u) => u.createdAt },
  { header: 'lastSignIn', value: (u) => u.lastSignIn },
]

/** /api/v1/users (admin token): search, detail, offboarding. */
export async function userRoutes(app: FastifyInstance, { services, requireToken }: RouteOptions): Promise<void> {
  const admin = requireToken('admin')

  app.get('/api/v1/users', { preHandler: admin }, async (request, reply) => {
    const query = parseOrBadRequest(userListQuery, request.query, 'query parameter(s)')
    const csv = wantsCsv(request, query.format)
    const limit = pageLimit(query.limit, csv)
    const { users, total } = await findUsers(services.db, { q: query.q, limit, offset: query.offset })
    if (csv) return sendCsv(reply, 'users', userCsvColumns, users)
    return { users, total, limit, offset: query.offset }
  })

  app.get<{ Params: { email: string } }>('/api/v1/users/:email', { preHandler: admin }, async (request) => {
    const email = parseOrBadRequest(userParam, request.params.email)
    const detail = await userDetail(services.db, email)
    if (!detail) throw notFound(`no user ${email}`)
    return detail
  })

  app.post<{ Params: { email: string } }>('/api/v1/users/:email/revoke', { preHandler: admin, bodyLimit: 4096 }, async (request) => {
    const email = parseOrBadRequest(userParam, request.params.email)
    const { reason } = parseOrBadRequest(revokeUserBody, request.body ?? {})
    const revoked = await revokeUser(services, email, reason, `token:${request.principal!.name}`, request.ip)
    request.log.info({ user: email, reason, revoked: revoked.length }, 'user offboarded')
    return { revoked }
  })
}
