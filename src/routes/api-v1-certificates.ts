import type { FastifyInstance, FastifyRequest } from 'fastify'
import { derToPem, normalizeSerial } from '../../ca/index.js'
import { findCertificate, listCertificates, type CertificateListRow } from '../db/certificate-query.js'
import { badRequest, notFound } from '../errors.js'
import { certificateListQuery, pageLimit } from '../schemas/admin.js'
import { issueBody } from '../schemas/enrollment.js'
import { parseOrBadRequest } from '../schemas/parse.js'
import { enroll, issueEnrollment, type EnrollRequest } from '../use-cases/enroll.js'
import { parseRevokeRequest, revoke } from '../use-cases/revoke.js'
import { sendCsv, wantsCsv, type CsvColumn } from './csv.js'
import type { RouteOptions } from './route-options.js'

/** Who a token-authenticated request acts as: an admin token may reassign host names, an MDM token may not. */
export const tokenActor = (request: FastifyRequest): EnrollRequest['actor'] => ({
  label: `token:${request.principal!.name}`,
  role: request.principal!.role === 'admin' ? 'admin' : 'mdm',
  clientIp: request.ip,
})

/** The JSON view of a certificate row (API field names are a contract). */
export function certificateView(row: CertificateListRow, now = new Date()) {
  const expired = row.status === 'active' && new Date(row.not_after) <= now
  return {
    serial: row.serial,
    profile: row.profile,
    subject: row.subject,
    user: row.email,
    device: row.device_id
      ? { id: row.device_id, name: row.device_name, platform: row.device_platform, hostname: row.device_hostname, serialNumber: row.device_serial_number }
      : null,
    keyType: row.key_type,
    status: expired ? 'expired' : row.status,
    notBefore: new Date(row.not_before).toISOString(),
    notAfter: new Date(row.not_after).toISOString(),
    issuedAt: new Date(row.issued_at).toISOString(),
    revokedAt: row.revoked_at ? new Date(row.revoked_at).toISOString() : null,
    revocationReason: row.revocation_reason,
    // "Last seen by the VPN": the last fresh OCSP check (a firewall caches answers until nextUpdate), summed over replicas.
    lastOcspCheckAt: row.last_ocsp_check_at ? new Date(row.last_ocsp_check_at).toISOString() : null,
    ocspChecks: Number(row.ocsp_checks),
  }
}

/** Columns of the certificate export (format=csv): the JSON view, the device flattened. */
const certificateCsvColumns: readonly CsvColumn<ReturnType<typeof certificateView>>[] = [
  { header: 'serial', value: (c) => c.serial },
  { header: 'profile', value: (c) => c.profile },
  { header: 'subject', value: (c) => c.subject },
  { header: 'user', value: (c) => c.user },
  { header: 'deviceId', value: (c) => c.device?.id },
  { header: 'deviceName', value: (c) => c.device?.name },
  { header: 'platform', value: (c) => c.device?.platform },
  { header: 'hostname', value: (c) => c.device?.hostname },
  { header: 'deviceSerialNumber', value: (c) => c.device?.serialNumber },
  { header: 'keyType', value: (c) => c.keyType },
  { header: 'status', value: (c) => c.status },
  { header: 'notBefore', value: (c) => c.notBefore },
  { header: 'notAfter', value: (c) => c.notAfter },
  { header: 'issuedAt', value: (c) => c.issuedAt },
  { header: 'revokedAt', value: (c) => c.revokedAt },
  { header: 'revocationReason', value: (c) => c.revocationReason },
  { header: 'lastOcspCheckAt', value: (c) => c.lastOcspCheckAt },
  { header: 'ocspChecks', value: (c) => c.ocspChecks },
]

/** /api/v1/certificates: issue (POST), list and fetch (admin and MDM tokens), revoke (admin token). */
export async function certificateRoutes(app: FastifyInstance, { services, requireToken }: RouteOptions): Promise<void> {
  const adminOrMdm = requireToken('admin', 'mdm')

  app.post('/api/v1/certificates', { preHandler: adminOrMdm, bodyLimit: 128 * 1024 }, async (request, reply) => {
    const body = parseOrBadRequest(issueBody, request.body ?? {})
    const result = await enroll(services, issueEnrollment(body, tokenActor(request)))
    request.log.info({ serial: result.serial, profile: body.profile, deviceId: result.deviceId, bundle: body.bundle, superseded: result.superseded.length }, 'certificate issued')
    const view: Record<string, unknown> = { serial: result.serial, certificate: result.certificatePem, chain: result.chainPem, superseded: result.superseded }
    if (result.deviceId) view.deviceId = result.deviceId
    if (result.pkcs12) Object.assign(view, { pkcs12: result.pkcs12.der.toString('base64'), pkcs12Password: result.pkcs12.password })
    if (result.bundle) {
      const { bundle } = result
      view.bundle = { platform: body.bundle, filename: bundle.filename, contentType: bundle.contentType, data: bundle.body.toString('base64'), pkcs12Password: bundle.pkcs12Password }
    }
    return reply.code(201).header('cache-control', 'no-store').send(view)
  })

  app.get('/api/v1/certificates', { preHandler: adminOrMdm }, async (request, reply) => {
    const { format, ...query } = parseOrBadRequest(certificateListQuery, request.query, 'query parameter(s)')
    const csv = wantsCsv(request, format)
    const limit = pageLimit(query.limit, csv)
    const now = new Date()
    const rows = await listCertificates(services.db, { ...query, limit }, now)
    const certificates = rows.map((row) => certificateView(row, now))
    if (csv) return sendCsv(reply, 'certificates', certificateCsvColumns, certificates)
    return { certificates, limit, offset: query.offset }
  })

  app.get<{ Params: { serial: string } }>('/api/v1/certificates/:serial', { preHandler: adminOrMdm }, async (request) => {
    const serial = normalizeSerial(request.params.serial)
    if (!serial) throw badRequest('the serial must be hexadecimal (as returned by the API)', 'invalid_serial')
    const row = await findCertificate(services.db, serial)
    if (!row) throw notFound(`no certificate with serial ${serial}`)
    return { ...certificateView(row), certificate: derToPem(Buffer.from(row.der), 'CERTIFICATE') }
  })

  app.post<{ Params: { serial: string } }>('/api/v1/certificates/:serial/revoke', { preHandler: requireToken('admin'), bodyLimit: 4096 }, async (request) => {
    const reason = parseRevokeRequest(request.body)
    const result = await revoke(services, request.params.serial, reason, `token:${request.principal!.name}`, request.ip)
    request.log.info({ serial: result.serial, reason: result.reason, alreadyRevoked: result.alreadyRevoked }, 'certificate revoked')
    return { serial: result.serial, status: 'revoked', revokedAt: result.revokedAt.toISOString(), reason: result.reason, alreadyRevoked: result.alreadyRevoked }
  })
}
