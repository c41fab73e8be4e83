import { sql, type Kysely } from 'kysely'
import type { Database } from './database.js'

/** OCSP requests about one certificate since the last write: how many, and when the last came. */
export interface OcspCheckTally {
  serial: string
  checks: number
  lastCheckedAt: Date
}

/**
 * Adds one batch of tallies in one statement: each replica adds its own
 * counts to the shared row, and the last check is the latest any replica
 * saw (greatest), so writes from several replicas, in any order, merge.
 */
export async function addOcspChecks(db: Kysely<Database>, tallies: readonly OcspCheckTally[]): Promise<void> {
  if (tallies.length === 0) return
  const serials = tallies.map((t) => t.serial)
  const counts = tallies.map((t) => t.checks)
  const times = tallies.map((t) => t.lastCheckedAt.toISOString())
  await sql`
    insert into ocsp_check (serial, checks, last_checked_at)
    select u.serial, u.checks, u.last_checked_at
      from unnest(${serials}::text[], ${counts}::bigint[], ${times}::timestamptz[]) as u(serial, checks, last_checked_at)
      -- serials come from status lookups, so they exist; the guard keeps one odd serial from failing the whole batch (foreign key)
      where exists (select 1 from certificate c where c.serial = u.serial)
    on conflict (serial) do update
      set checks = ocsp_check.checks + excluded.checks,
          last_checked_at = greatest(ocsp_check.last_checked_at, excluded.last_checked_at)
  `.execute(db)
}

/** The columns certificate views add: `ocsp_checks` (0 when never checked) and `last_ocsp_check_at` (null). */
export const ocspCheckColumns = [
  sql<string>`coalesce(ocsp_check.checks, 0)`.as('ocsp_checks'),
  sql<Date | null>`ocsp_check.last_checked_at`.as('last_ocsp_check_at'),
] as const
