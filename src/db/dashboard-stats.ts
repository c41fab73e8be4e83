import { sql, type Kysely } from 'kysely'
import type { Database } from './database.js'

const DAY_MS = 86_400_000

/** The dashboard's numbers (GET /admin), read in a handful of aggregate queries. */
export interface DashboardStats {
  /** Day (YYYY-MM-DD, UTC) → certificates issued and revoked that day, oldest first, `days` entries. */
  perDay: { day: string; issued: number; revoked: number }[]
  /** Active, unexpired certificates by device platform (`none`: issued without a device) and profile. */
  activeBy: { platform: string; profile: string; count: number }[]
  /** Active certificates whose notAfter falls within 30, 60 and 90 days. */
  expiring: { days: number; count: number }[]
  /** The current CRLs: CA serial, number, thisUpdate, entries, size in bytes. */
  crls: { caSerial: string; number: number; thisUpdate: Date; entries: number; bytes: number }[]
}

const dayOf = (d: Date): string => d.toISOString().slice(0, 10)

export async function dashboardStats(db: Kysely<Database>, now = new Date(), days = 90): Promise<DashboardStats> {
  const since = new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS - (days - 1) * DAY_MS)
  const [issued, revoked, activeBy, expiring, crls] = await Promise.all([
    db
      .selectFrom('certificate')
      .select([sql<string>`to_char(issued_at at time zone 'UTC', 'YYYY-MM-DD')`.as('day'), sql<string>`count(*)`.as('n')])
      .where('issued_at', '>=', since)
      .groupBy(sql`1`)
      .execute(),
    db
      .selectFrom('certificate')
      .select([sql<string>`to_char(revoked_at at time zone 'UTC', 'YYYY-MM-DD')`.as('day'), sql<string>`count(*)`.as('n')])
      .where('revoked_at', '>=', since)
      .groupBy(sql`1`)
      .execute(),
    db
      .selectFrom('certificate')
      .leftJoin('device', 'device.id', 'certificate.device_id')
      .select([sql<string>`coalesce(device.platform, 'none')`.as('platform'), 'certificate.profile', sql<string>`count(*)`.as('n')])
      .where('certificate.status', '=', 'active')
      .where('certificate.not_after', '>', now)
      .groupBy([sql`1`, 'certificate.profile'])
      .orderBy(sql`1`)
      .orderBy('certificate.profile')
      .execute(),
    db
      .selectFrom('certificate')
      .select([
        sql<string>`count(*) filter (where not_after <= ${new Date(now.getTime() + 30 * DAY_MS)})`.as('d30'),
        sql<string>`count(*) filter (where not_after <= ${new Date(now.getTime() + 60 * DAY_MS)})`.as('d60'),
        sql<string>`count(*)`.as('d90'),
      ])
      .where('status', '=', 'active')
      .where('not_after', '>', now)
      .where('not_after', '<=', new Date(now.getTime() + 90 * DAY_MS))
      .executeTakeFirstOrThrow(),
    db.selectFrom('crl_current').select(['ca_serial', 'crl_number', 'this_update', 'entries', sql<number>`octet_length(der)`.as('bytes')]).execute(),
  ])
  const issuedBy = new Map(issued.map((r) => [r.day, Number(r.n)]))
  const revokedBy = new Map(revoked.map((r) => [r.day, Number(r.n)]))
  const perDay = Array.from({ length: days }, (_, i) => {
    const day = dayOf(new Date(since.getTime() + i * DAY_MS))
    return { day, issued: issuedBy.get(day) ?? 0, revoked: revokedBy.get(day) ?? 0 }
  })
  return {
    perDay,
    activeBy: activeBy.map((r) => ({ platform: r.platform, profile: r.profile, count: Number(r.n) })),
    expiring: [
      { days: 30, count: Number(expiring.d30) },
      { days: 60, count: Number(expiring.d60) },
      { days: 90, count: Number(expiring.d90) },
    ],
    crls: crls.map((r) => ({ caSerial: r.ca_serial, number: Number(r.crl_number), thisUpdate: new Date(r.this_update), entries: r.entries, bytes: Number(r.bytes) })),
  }
}
