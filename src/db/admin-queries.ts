import { sql, type Expression, type Kysely, type SqlBool } from 'kysely'
import type { Database, Platform } from './database.js'
import { isDeviceId } from './device-repository.js'
import { ocspCheckColumns } from './ocsp-check-repository.js'

/**
 * The administrators' read side: searches and detail views over users,
 * devices, certificates, sign-ins and the audit log, shared by the admin API
 * (src/routes/api-v1-users.ts, api-v1-admin-devices.ts, api-v1-audit.ts) and
 * the admin pages. Every search `q` is a case-insensitive PREFIX match, so
 * that the btree indexes of migration 0014 answer it (no scan of 100,000
 * certificates); a certificate counts as active while it is not revoked and
 * not expired.
 */

/** A device with its owner and how many certificates it holds now. */
export interface DeviceSummary {
  id: string
  name: string
  platform: Platform
  hostname: string | null
  serialNumber: string | null
  /** The owner's email. */
  user: string
  /** The owner's display name (from the IdP). */
  displayName: string | null
  activeCertificates: number
  createdAt: Date
}

/** Filters of {@link findDevices}; `user` is an exact email, `q` a prefix. */
export interface DeviceFilter {
  q?: string
  user?: string
  platform?: Platform
  limit: number
  offset: number
}

/** A user with counts of devices and active certificates, and the newest sign-in. */
export interface UserSummary {
  email: string
  displayName: string | null
  devices: number
  activeCertificates: number
  createdAt: Date
  lastSignIn: Date | null
}

export interface CertificateSummary {
  serial: string
  profile: string
  status: 'active' | 'revoked'
  notBefore: Date
  notAfter: Date
  revokedAt: Date | null
  revocationReason: string | null
  deviceId: string | null
  deviceName: string | null
  platform: Platform | null
  /** The owner's email. */
  user: string
  issuedAt: Date
  /** "Last seen by the VPN" (revocation/last-seen.ts): the last OCSP request about it, and how many came. */
  lastOcspCheckAt: Date | null
  ocspChecks: number
}

/** One sign-in to the web page (a web_session row, migration 0012). */
export interface SignInRecord {
  id: string
  via: string
  ip: string | null
  userAgent: string | null
  createdAt: Date
  lastSeenAt: Date
  endedAt: Date | null
  endReason: string | null
}

export interface AuditEntry {
  id: string
  at: Date
  actor: string
  action: string
  serial: string | null
  details: Record<string, unknown>
}

/**
 * Filters of {@link listAudit}:
 * - `type`: an action ("certificate.revoked"), or a prefix ending in "."
 *   ("certificate."); a bare family ("certificate") matches its actions too.
 * - `actor`: exactly as recorded ("token:ops", "user:alice@example.com", "kagi").
 * - `user` (email): events about the user's certificates (by serial), events
 *   the user did (actor "user:<email>", e.g. auth.signed-in), and events whose
 *   details name the email (session.ended `email`, user.revoked `email`,
 *   device.hostname-reassigned `to`).
 * - `device` (id): events about the device's certificates (by serial:
 *   issuance, revocation, supersession, reassignment) and events whose details
 *   carry the id (`deviceId`: device.revoked).
 * - `since` inclusive, `until` exclusive.
 */
export interface AuditFilter {
  type?: string
  actor?: string
  user?: string
  device?: string
  since?: Date
  until?: Date
  limit: number
  offset: number
}

/** Bounds of the detail views: a person has a handful of devices, a device a few certificates a year. */
const DETAIL_DEVICES = 200
const DETAIL_CERTIFICATES = 500
const DETAIL_SIGN_INS = 50
const DETAIL_HISTORY = 500

/** `text` as the start of a LIKE pattern: lowercased, with LIKE's wildcards escaped (backslash is PostgreSQL's default escape). */
export function prefixPattern(text: string): string {
  return `${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

/** The hex prefix a search might be of a certificate serial ("3A:F0" → "3af0"), or undefined. */
export function serialPrefix(q: string): string | undefined {
  const hex = q.replace(/:/g, '').toLowerCase()
  return /^[0-9a-f]{1,40}$/.test(hex) ? hex : undefined
}

const activeNow = sql<SqlBool>`c.status = 'active' and c.not_after > now()`

/** Ids of the devices `q` finds: one indexed prefix lookup per field, united (an OR across a join would scan). */
function devicesMatching(db: Kysely<Database>, q: string) {
  const pattern = prefixPattern(q)
  const lower = (column: string) => sql<string>`lower(${sql.ref(column)})`
  let ids = db
    .selectFrom('device')
    .select('device.id')
    .where(lower('device.name'), 'like', pattern)
    .union(db.selectFrom('device').select('device.id').where(lower('device.hostname'), 'like', pattern))
    .union(db.selectFrom('device').select('device.id').where(lower('device.serial_number'), 'like', pattern))
    .union(
      db
        .selectFrom('device')
        .innerJoin('app_user', 'app_user.id', 'device.user_id')
        .select('device.id')
        .where((eb) => eb.or([eb(lower('app_user.email'), 'like', pattern), eb(lower('app_user.display_name'), 'like', pattern)])),
    )
  const hex = serialPrefix(q)
  if (hex) {
    ids = ids.union(
      db
        .selectFrom('certificate')
        .select((eb) => eb.cast<string>('certificate.device_id', 'uuid').as('id'))
        .where('certificate.serial', 'like', prefixPattern(hex))
        .where('certificate.device_id', 'is not', null),
    )
  }
  return ids
}

/** The columns of a {@link DeviceSummary} (device joined with its owner). */
const deviceSummaryColumns = [
  'device.id',
  'device.name',
  'device.platform',
  'device.hostname',
  'device.serial_number',
  'device.created_at',
  'app_user.email',
  'app_user.display_name',
  sql<string>`(select count(*) from certificate c where c.device_id = device.id and ${activeNow})`.as('active'),
] as const

/** Devices matching the filter, newest first, and how many match in all. */
export async function findDevices(db: Kysely<Database>, filter: DeviceFilter): Promise<{ devices: DeviceSummary[]; total: number }> {
  let base = db.selectFrom('device').innerJoin('app_user', 'app_user.id', 'device.user_id')
  if (filter.q) {
    const q = filter.q
    base = base.where('device.id', 'in', () => devicesMatching(db, q) as never)
  }
  if (filter.user) base = base.where('app_user.email', '=', filter.user.toLowerCase())
  if (filter.platform) base = base.where('device.platform', '=', filter.platform)
  const [rows, count] = await Promise.all([
    base
      .select(deviceSummaryColumns)
      .orderBy('device.created_at', 'desc')
      .orderBy('device.id')
      .limit(filter.limit)
      .offset(filter.offset)
      .execute(),
    base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ])
  return { devices: rows.map(toDeviceSummary), total: Number(count.n) }
}

function toDeviceSummary(row: {
  id: string
  name: string
  platform: Platform
  hostname: string | null
  serial_number: string | null
  email: string
  display_name: string | null
  active: string | number
  created_at: Date | string
}): DeviceSummary {
  return {
    id: row.id,
    name: row.name,
    platform: row.platform,
    hostname: row.hostname,
    serialNumber: row.serial_number,
    user: row.email,
    displayName: row.display_name,
    activeCertificates: Number(row.active),
    createdAt: new Date(row.created_at),
  }
}

/** The user summary columns, computed per row (only for the page's rows). */
function userColumns(db: Kysely<Database>) {
  return db
    .selectFrom('app_user')
    .select([
      'app_user.email',
      'app_user.display_name',
      'app_user.created_at',
      sql<string>`(select count(*) from device d where d.user_id = app_user.id)`.as('devices'),
      sql<string>`(select count(*) from certificate c where c.user_id = app_user.id and ${activeNow})`.as('active'),
      sql<Date | string | null>`(select max(s.created_at) from web_session s where s.email = app_user.email)`.as('last_sign_in'),
    ])
}

function toUserSummary(row: Awaited<ReturnType<ReturnType<typeof userColumns>['execute']>>[number]): UserSummary {
  return {
    email: row.email,
    displayName: row.display_name,
    devices: Number(row.devices),
    activeCertificates: Number(row.active),
    createdAt: new Date(row.created_at),
    lastSignIn: row.last_sign_in === null ? null : new Date(row.last_sign_in),
  }
}

/** Users whose email or display name starts with `q`, by email, and how many match in all. */
export async function findUsers(db: Kysely<Database>, filter: { q?: string; limit: number; offset: number }): Promise<{ users: UserSummary[]; total: number }> {
  const matching = <T extends { where: (e: Expression<SqlBool>) => T }>(query: T): T => {
    if (!filter.q) return query
    const pattern = prefixPattern(filter.q)
    return query.where(sql<SqlBool>`(lower(app_user.email) like ${pattern} or lower(app_user.display_name) like ${pattern})`)
  }
  const [rows, count] = await Promise.all([
    matching(userColumns(db)).orderBy('app_user.email').limit(filter.limit).offset(filter.offset).execute(),
    matching(db.selectFrom('app_user').select((eb) => eb.fn.countAll<string>().as('n'))).executeTakeFirstOrThrow(),
  ])
  return { users: rows.map(toUserSummary), total: Number(count.n) }
}

/** Certificates with their device and owner; the caller adds the condition. */
function certificateQuery(db: Kysely<Database>) {
  return db
    .selectFrom('certificate')
    .innerJoin('app_user', 'app_user.id', 'certificate.user_id')
    .leftJoin('device', 'device.id', 'certificate.device_id')
    .leftJoin('ocsp_check', 'ocsp_check.serial', 'certificate.serial')
    .select(ocspCheckColumns)
    .select([
      'certificate.issued_at',
      'certificate.serial',
      'certificate.profile',
      'certificate.status',
      'certificate.not_before',
      'certificate.not_after',
      'certificate.revoked_at',
      'certificate.revocation_reason',
      'certificate.device_id',
      'device.name as device_name',
      'device.platform',
      'app_user.email',
    ])
    .orderBy('certificate.issued_at', 'desc')
    .orderBy('certificate.serial')
    .limit(DETAIL_CERTIFICATES)
}

function toCertificateSummary(row: Awaited<ReturnType<ReturnType<typeof certificateQuery>['execute']>>[number]): CertificateSummary {
  return {
    serial: row.serial,
    profile: row.profile,
    status: row.status,
    notBefore: new Date(row.not_before),
    notAfter: new Date(row.not_after),
    revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at),
    revocationReason: row.revocation_reason,
    deviceId: row.device_id,
    deviceName: row.device_name,
    platform: row.platform,
    user: row.email,
    issuedAt: new Date(row.issued_at),
    lastOcspCheckAt: row.last_ocsp_check_at ? new Date(row.last_ocsp_check_at) : null,
    ocspChecks: Number(row.ocsp_checks),
  }
}

/** A user's summary, devices, certificates (newest first) and newest sign-ins, or undefined for an unknown email. */
export async function userDetail(
  db: Kysely<Database>,
  email: string,
): Promise<{ user: UserSummary; devices: DeviceSummary[]; certificates: CertificateSummary[]; signIns: SignInRecord[] } | undefined> {
  const normalized = email.toLowerCase()
  const row = await userColumns(db).where('app_user.email', '=', normalized).executeTakeFirst()
  if (!row) return undefined
  const [devices, certificates, sessions] = await Promise.all([
    findDevices(db, { user: normalized, limit: DETAIL_DEVICES, offset: 0 }),
    certificateQuery(db).where('app_user.email', '=', normalized).execute(),
    db
      .selectFrom('web_session')
      .select(['id', 'via', 'ip', 'user_agent', 'created_at', 'last_seen_at', 'ended_at', 'end_reason'])
      .where('email', '=', normalized)
      .orderBy('created_at', 'desc')
      .limit(DETAIL_SIGN_INS)
      .execute(),
  ])
  return {
    user: toUserSummary(row),
    devices: devices.devices,
    certificates: certificates.map(toCertificateSummary),
    signIns: sessions.map((s) => ({
      id: s.id,
      via: s.via,
      ip: s.ip,
      userAgent: s.user_agent,
      createdAt: new Date(s.created_at),
      lastSeenAt: new Date(s.last_seen_at),
      endedAt: s.ended_at === null ? null : new Date(s.ended_at),
      endReason: s.end_reason,
    })),
  }
}

/** A device's summary, certificates (newest first) and history (newest first), or undefined for an unknown id. */
export async function deviceDetail(
  db: Kysely<Database>,
  id: string,
): Promise<{ device: DeviceSummary; certificates: CertificateSummary[]; history: AuditEntry[] } | undefined> {
  // PostgreSQL refuses a malformed uuid with an error; a malformed id simply names no device.
  if (!isDeviceId(id)) return undefined
  const row = await db
    .selectFrom('device')
    .innerJoin('app_user', 'app_user.id', 'device.user_id')
    .select(deviceSummaryColumns)
    .where('device.id', '=', id)
    .executeTakeFirst()
  if (!row) return undefined
  const [certificates, history] = await Promise.all([
    certificateQuery(db).where('certificate.device_id', '=', id).execute(),
    listAudit(db, { device: id, limit: DETAIL_HISTORY, offset: 0 }),
  ])
  return { device: toDeviceSummary(row), certificates: certificates.map(toCertificateSummary), history: history.events }
}

/** Audit events matching the filter (see {@link AuditFilter}), newest first, and how many match in all. */
export async function listAudit(db: Kysely<Database>, filter: AuditFilter): Promise<{ events: AuditEntry[]; total: number }> {
  const conditions: Expression<SqlBool>[] = []
  if (filter.type) {
    const type = filter.type
    conditions.push(
      type.endsWith('.')
        ? sql<SqlBool>`a.action like ${`${type.replace(/[\\%_]/g, (c) => `\\${c}`)}%`}`
        : sql<SqlBool>`(a.action = ${type} or a.action like ${`${type.replace(/[\\%_]/g, (c) => `\\${c}`)}.%`})`,
    )
  }
  if (filter.actor) conditions.push(sql<SqlBool>`a.actor = ${filter.actor}`)
  // Each alternative is its own indexed lookup (serial, actor, the details keys of migration 0014), united:
  // an OR over them would scan the whole log.
  if (filter.user) {
    const email = filter.user.toLowerCase()
    conditions.push(sql<SqlBool>`a.id in (
      select e.id from audit_event e where e.serial in (select c.serial from certificate c join app_user u on u.id = c.user_id where u.email = ${email})
      union select e.id from audit_event e where e.actor = ${`user:${email}`}
      union select e.id from audit_event e where e.details->>'email' = ${email}
      union select e.id from audit_event e where e.details->>'to' = ${email})`)
  }
  if (filter.device) {
    // A malformed id names no device (and must not reach a uuid comparison).
    const device = isDeviceId(filter.device) ? filter.device.toLowerCase() : '00000000-0000-0000-0000-000000000000'
    conditions.push(sql<SqlBool>`a.id in (
      select e.id from audit_event e where e.serial in (select c.serial from certificate c where c.device_id = ${device}::uuid)
      union select e.id from audit_event e where e.details->>'deviceId' = ${device})`)
  }
  if (filter.since) conditions.push(sql<SqlBool>`a.at >= ${filter.since}`)
  if (filter.until) conditions.push(sql<SqlBool>`a.at < ${filter.until}`)
  const where = conditions.length > 0 ? sql`where ${sql.join(conditions, sql` and `)}` : sql``
  const [rows, count] = await Promise.all([
    sql<{ id: string | number; at: Date | string; actor: string; action: string; serial: string | null; details: Record<string, unknown> | string | null }>`
      select a.id, a.at, a.actor, a.action, a.serial, a.details from audit_event a ${where}
      order by a.seq desc limit ${filter.limit} offset ${filter.offset}`.execute(db),
    sql<{ n: string | number }>`select count(*) as n from audit_event a ${where}`.execute(db),
  ])
  return {
    events: rows.rows.map((r) => ({
      id: String(r.id),
      at: new Date(r.at),
      actor: r.actor,
      action: r.action,
      serial: r.serial,
      details: typeof r.details === 'string' ? (JSON.parse(r.details) as Record<string, unknown>) : (r.details ?? {}),
    })),
    total: Number(count.rows[0]!.n),
  }
}
