import type { FastifyInstance } from 'fastify'
import { listAudit, type AuditEntry } from '../db/admin-queries.js'
import { auditListQuery, pageLimit } from '../schemas/admin.js'
import { parseOrBadRequest } from '../schemas/parse.js'
import { sendCsv, wantsCsv, type CsvColumn } from './csv.js'
import type { RouteOptions } from './route-options.js'

/** Columns of the audit export; `details` is its JSON text. */
export const auditCsvColumns: readonly CsvColumn<AuditEntry>[] = [
  { header: 'id', value: (e) => e.id },
  { header: 'at', value: (e) => e.at },
  { header: 'actor', value: (e) => e.actor },
  { header: 'action', value: (e) => e.action },
  { header: 'serial', value: (e) => e.serial },
  { header: 'details', value: (e) => JSON.stringify(e.details) },
]

/** GET /api/v1/audit (admin token): the audit log, newest first (filters: src/db/admin-queries.ts AuditFilter). */
export async function auditRoutes(app: FastifyInstance, { services, requireToken }: RouteOptions): Promise<void> {
  app.get('/api/v1/audit', { preHandler: requireToken('admin') }, async (request, reply) => {
    const { format, limit, ...filter } = parseOrBadRequest(auditListQuery, request.query, 'query parameter(s)')
    const csv = wantsCsv(request, format)
    const page = pageLimit(limit, csv)
    const { events, total } = await listAudit(services.db, { ...filter, limit: page })
    if (csv) return sendCsv(reply, 'audit', auditCsvColumns, events)
    return { events, total, limit: page, offset: filter.offset }
  })
}
