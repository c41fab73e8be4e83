import { sql, type Kysely } from 'kysely'
import type { Platform } from '../../enrollment/bundle-types.js'
import { prefixPattern, serialPrefix } from './admin-queries.js'
import type { Database } from './database.js'
import { ocspCheckColumns } from './ocsp-check-repository.js'

/** The admin search's filters (GET /admin/search): one box, and status, platform, profile, expiry. */
export interface CertificateSearch {
  q?: string
  status?: 'active' | 'revoked' | 'expired'
  platform?: Platform
  profile?: string
  expiringWithinDays?: number
  limit: number
  offset: number
}

/** One row of the search's result. */
export interface CertificateHit {
  serial: string
  profile: string
  status: 'active' | 'revoked'
  notAfter: Date
  revokedAt: Date | null
  revocationReason: string | null
  user: string
  displayName: string | null
  deviceId: string | null
  deviceName: string | null
  platform: Platform | null
  hostname: string | null
  serialNumber: string | null
  issuedAt: Date
  /** "Last seen by the VPN" (revocation/last-seen.ts). */
  lastOcspCheckAt: Date | null
  ocspChecks: number
}

const lower = (column: string) => sql<string>`lower(${sql.ref(column)})`

/**
 * Certificates whose owner, device or serial starts with `q` (case-insensitive
 * prefix: email, display name, device name, host name, hardware serial,
 * certificate serial in hex with or without colons), filtered, newest first,
 * with the total for paging. Each field is its own indexed prefix lookup
 * (migration 0014), united, rather than one OR across the join.
 */
export async function searchCertificates(db: Kysely<Database>, search: CertificateSearch, now = new Date()): Promise<{ hits: CertificateHit[]; total: number }> {
  let query = db.selectFrom('certificate as c').innerJoin('app_user as u', 'u.id', 'c.user_id').leftJoin('device as d', 'd.id', 'c.device_id').leftJoin('ocsp_check', 'ocsp_check.serial', 'c.serial')
  const q = search.q?.trim()
  if (q) {
    const pattern = prefixPattern(q)
    let serials = db
      .selectFrom('certificate')
      .select('certificate.serial')
      .where('certificate.user_id', 'in', db.selectFrom('app_user').select('id').where((eb) => eb.or([eb(lower('email'), 'like', pattern), eb(lower('display_name'), 'like', pattern)])))
      .union(
        db
          .selectFrom('certificate')
          .select('certificate.serial')
          .where(
            'certificate.device_id',
            'in',
            db
              .selectFrom('device')
              .select('id')
              .where((eb) => eb.or([eb(lower('name'), 'like', pattern), eb(lower('hostname'), 'like', pattern), eb(lower('serial_number'), 'like', pattern)])),
          ),
      )
    const hex = serialPrefix(q)
    if (hex) serials = serials.union(db.selectFrom('certificate').select('certificate.serial').where('certificate.serial', 'like', prefixPattern(hex)))
    query = query.where('c.serial', 'in', serials)
  }
  if (search.status === 'revoked') query = query.where('c.status', '=', 'revoked')
  if (search.status === 'active') query = query.where('c.status', '=', 'active').where('c.not_after', '>', now)
  if (search.status === 'expired') query = query.where('c.status', '=', 'active').where('c.not_after', '<=', now)
  if (search.platform) query = query.where('d.platform', '=', search.platform)
  if (search.profile) query = query.where('c.profile', '=', search.profile)
  if (search.expiringWithinDays !== undefined) {
    query = query.where('c.status', '=', 'active').where('c.not_after', '>', now).where('c.not_after', '<=', new Date(now.getTime() + search.expiringWithinDays * 86_400_000))
  }
  const [rows, count] = await Promise.all([
    query
      .select(ocspCheckColumns)
      .select([
        'c.issued_at',
        'c.serial',
        'c.profile',
        'c.status',
        'c.not_after',
        'c.revoked_at',
        'c.revocation_reason',
        'u.email',
        'u.display_name',
        'd.id as device_id',
        'd.name as device_name',
        'd.platform',
        'd.hostname',
        'd.serial_number',
      ])
      .orderBy('c.issued_at', 'desc')
      .orderBy('c.serial')
      .limit(search.limit)
      .offset(search.offset)
      .execute(),
    query.select(sql<string>`count(*)`.as('n')).executeTakeFirstOrThrow(),
  ])
  return {
    total: Number(count.n),
    hits: rows.map((r) => ({
      serial: r.serial,
      profile: r.profile,
      status: r.status,
      notAfter: new Date(r.not_after),
      revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
      revocationReason: r.revocation_reason,
      user: r.email,
      displayName: r.display_name,
      deviceId: r.device_id,
      deviceName: r.device_name,
      platform: r.platform,
      hostname: r.hostname,
      serialNumber: r.serial_number,
      issuedAt: new Date(r.issued_at),
      lastOcspCheckAt: r.last_ocsp_check_at ? new Date(r.last_ocsp_check_at) : null,
      ocspChecks: Number(r.ocsp_checks),
    })),
  }
}
