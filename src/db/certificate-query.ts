import type { Kysely } from 'kysely'
import { isDeviceId } from './device-repository.js'
import type { Database } from './database.js'
import { ocspCheckColumns } from './ocsp-check-repository.js'

/** Filters of GET /api/v1/certificates. */
export interface CertificateFilter {
  user?: string
  /** Device id or hardware serial number. */
  device?: string
  status?: 'active' | 'revoked' | 'expired'
  expiringWithinDays?: number
  limit: number
  offset: number
}

const columns = [
  'certificate.serial',
  'certificate.profile',
  'certificate.subject',
  'certificate.key_type',
  'certificate.not_before',
  'certificate.not_after',
  'certificate.status',
  'certificate.revoked_at',
  'certificate.revocation_reason',
  'certificate.issued_at',
  'app_user.email',
  'device.id as device_id',
  'device.name as device_name',
  'device.platform as device_platform',
  'device.hostname as device_hostname',
  'device.serial_number as device_serial_number',
] as const

function baseQuery(db: Kysely<Database>) {
  return db
    .selectFrom('certificate')
    .innerJoin('app_user', 'app_user.id', 'certificate.user_id')
    .leftJoin('device', 'device.id', 'certificate.device_id')
    .leftJoin('ocsp_check', 'ocsp_check.serial', 'certificate.serial')
}

/** Certificates matching the filter, newest first. */
export async function listCertificates(db: Kysely<Database>, filter: CertificateFilter, now = new Date()) {
  let q = baseQuery(db).select(columns).select(ocspCheckColumns)
  if (filter.user) q = q.where('app_user.email', '=', filter.user.toLowerCase())
  if (filter.device) {
    const device = filter.device
    q = isDeviceId(device) ? q.where((eb) => eb.or([eb('device.id', '=', device), eb('device.serial_number', '=', device)])) : q.where('device.serial_number', '=', device)
  }
  if (filter.status === 'revoked') q = q.where('certificate.status', '=', 'revoked')
  if (filter.status === 'active') q = q.where('certificate.status', '=', 'active').where('certificate.not_after', '>', now)
  if (filter.status === 'expired') q = q.where('certificate.status', '=', 'active').where('certificate.not_after', '<=', now)
  if (filter.expiringWithinDays !== undefined) {
    q = q
      .where('certificate.status', '=', 'active')
      .where('certificate.not_after', '>', now)
      .where('certificate.not_after', '<=', new Date(now.getTime() + filter.expiringWithinDays * 86_400_000))
  }
  return q.orderBy('certificate.issued_at', 'desc').orderBy('certificate.serial').limit(filter.limit).offset(filter.offset).execute()
}

/** One certificate with its DER, or undefined. */
export async function findCertificate(db: Kysely<Database>, serial: string) {
  return baseQuery(db).select([...columns, 'certificate.der']).select(ocspCheckColumns).where('certificate.serial', '=', serial).executeTakeFirst()
}

export type CertificateListRow = Awaited<ReturnType<typeof listCertificates>>[number]

/** A device's active certificates of one profile (at most one, since migration 0010). */
export async function activeCertificatesOf(db: Kysely<Database>, deviceId: string, profile: string) {
  return db
    .selectFrom('certificate')
    .select(['serial', 'not_after'])
    .where('device_id', '=', deviceId)
    .where('profile', '=', profile)
    .where('status', '=', 'active')
    .execute()
}

/** Unexpired active device certificates naming this host name, with their owner's email. */
export async function activeHoldersOfHostname(db: Kysely<Database>, hostname: string, now: Date) {
  return db
    .selectFrom('certificate')
    .innerJoin('app_user', 'app_user.id', 'certificate.user_id')
    .select(['certificate.serial', 'certificate.user_id', 'app_user.email'])
    .where('certificate.profile', '=', 'device')
    .where('certificate.status', '=', 'active')
    .where('certificate.subject', '=', hostname)
    .where('certificate.not_after', '>', now)
    .limit(100)
    .execute()
}
