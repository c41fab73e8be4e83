import type { FastifyInstance } from 'fastify'
import { deviceDetail, findDevices, type DeviceSummary } from '../db/admin-queries.js'
import { notFound } from '../errors.js'
import { deviceListQuery, pageLimit, revokeDeviceBody } from '../schemas/admin.js'
import { parseOrBadRequest } from '../schemas/parse.js'
import { revokeDevice } from '../use-cases/offboard.js'
import { sendCsv, wantsCsv, type CsvColumn } from './csv.js'
import type { RouteOptions } from './route-options.js'

/** Columns of the device export (the JSON list's fields). */
export const deviceCsvColumns: readonly CsvColumn<DeviceSummary>[] = [
  { header: 'id', value: (d) => d.id },
  { header: 'name', value: (d) => d.name },
  { header: 'platform', value: (d) => d.platform },
  { header: 'hostname', value: (d) => d.hostname },
  { header: 'serialNumber', value: (d) => d.serialNumber },
  { header: 'user', value: (d) => d.user },
  { header: 'displayName', value: (d) => d.displayName },
  { header: 'activeCertificates', value: (d) => d.activeCertificates },
  { header: 'createdAt', value: (d) => d.createdAt },
]

/**
 * /api/v1/devices (admin token): search, detail, revoking a lost device.
 * GET /api/v1/devices/<id>/bundle, the owner's download, is another route
 * (src/routes/api-v1-devices.ts, inside the page's plugin).
 */
export async function adminDeviceRoutes(app: FastifyInstance, { services, requireToken }: RouteOptions): Promise<void> {
  const admin = requireToken('admin')

  app.get('/api/v1/devices', { preHandler: admin }, async (request, reply) => {
    const query = parseOrBadRequest(deviceListQuery, request.query, 'query parameter(s)')
    const csv = wantsCsv(request, query.format)
    const limit = pageLimit(query.limit, csv)
    const { devices, total } = await findDevices(services.db, { q: query.q, user: query.user, platform: query.platform, limit, offset: query.offset })
    if (csv) return sendCsv(reply, 'devices', deviceCsvColumns, devices)
    return { devices, total, limit, offset: query.offset }
  })

  app.get<{ Params: { id: string } }>('/api/v1/devices/:id', { preHandler: admin }, async (request) => {
    const detail = await deviceDetail(services.db, request.params.id)
    if (!detail) throw notFound(`no device ${request.params.id.slice(0, 64)}`)
    return detail
  })

  app.post<{ Params: { id: string } }>('/api/v1/devices/:id/revoke', { preHandler: admin, bodyLimit: 4096 }, async (request) => {
    const { reason } = parseOrBadRequest(revokeDeviceBody, request.body ?? {})
    const revoked = await revokeDevice(services, request.params.id.slice(0, 64), reason, `token:${request.principal!.name}`, request.ip)
    request.log.info({ deviceId: request.params.id, reason, revoked: revoked.length }, 'device revoked')
    return { revoked }
  })
}
