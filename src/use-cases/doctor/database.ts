import { sql } from 'kysely'
import type { Kysely } from 'kysely'
import pg from 'pg'
import { ConfigError, type Config } from '../../config.js'
import type { Database } from '../../db/database.js'
import { DataDirLockedError } from '../../db/data-dir-lock.js'
import type { Runtime } from '../../startup/runtime.js'
import { databaseWhere } from './environment.js'
import { describe, fail, NETWORK_TIMEOUT_MS, ok, warn, type CheckResult } from './types.js'

/**
 * Clock skew thresholds. kagi dates certificates, CRLs and OCSP answers by
 * this process's clock, but sessions, SCEP challenges and audit events by
 * the database's now(): beyond a couple of seconds the two disagree visibly
 * (a challenge lasting longer or shorter than KAGI_SCEP_CHALLENGE_TTL, audit
 * times out of step with certificate dates). Beyond 60 s SAML sign-in, which
 * tolerates 60 s of skew (auth/saml-routes.ts), starts refusing assertions.
 */
export const SKEW_WARN_MS = 2_000
export const SKEW_FAIL_MS = 60_000

/**
 * One connection to PostgreSQL within {@link NETWORK_TIMEOUT_MS}, before the
 * pool opens: pg waits for a connection without limit by default, so a host
 * that drops packets would otherwise hold doctor for minutes.
 */
async function reachPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: NETWORK_TIMEOUT_MS, query_timeout: NETWORK_TIMEOUT_MS })
  // A connection that fails later must not crash the process; the awaited calls report it.
  client.on('error', () => {})
  const started = Date.now()
  try {
    await client.connect()
    await client.query('select 1')
  } catch (error) {
    // pg reports its connection timeout as "Connection terminated unexpectedly": say what happened.
    if (Date.now() - started >= NETWORK_TIMEOUT_MS - 100) throw new Error(`no answer within ${NETWORK_TIMEOUT_MS / 1000} s (is the host up, and does a firewall let this host through?)`)
    throw error
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * The database: opened (and migrated) as by every command, or, in a running
 * `kagi serve`, the one it holds; or why not.
 */
export async function checkDatabase(config: Readonly<Config>, open: () => Promise<Runtime>, inServer: boolean): Promise<{ result: CheckResult; runtime?: Runtime }> {
  const name = 'database'
  const where = databaseWhere(config)
  try {
    if (config.databaseUrl && !inServer) await reachPostgres(config.databaseUrl)
    const runtime = await open()
    await sql`select 1`.execute(runtime.database.db)
    if (inServer) return { result: ok(name, `${where} answers (held open by the running kagi serve, which migrated it at start)`), runtime }
    const applied = runtime.migrations.filter((m) => m.status === 'Success').length
    const schema = applied ? `applied ${applied} pending migration${applied === 1 ? '' : 's'} now, as every command does` : 'schema up to date'
    return { result: ok(name, `${where} answers (${schema})`), runtime }
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DataDirLockedError) {
      return { result: fail(name, error.message, 'fix what the message names, then run kagi doctor again') }
    }
    const fix = config.databaseUrl
      ? 'check that PostgreSQL runs and accepts connections at DATABASE_URL (host, port, user, database name, password)'
      : `check that ${config.dataDir} is readable and not held by another program`
    return { result: fail(name, `cannot open ${where}: ${describe(error)}`, fix) }
  }
}

/**
 * Compares the database's now() with this process's clock. The query's
 * round trip is split evenly (the database read its clock somewhere inside
 * it), so skews smaller than half the round trip are not told apart from
 * none. The embedded database runs in this process and shares its clock.
 */
export async function checkClock(db: Kysely<Database>, embedded: boolean): Promise<CheckResult> {
  const name = 'clock'
  if (embedded) return ok(name, 'the embedded database runs in this process, on its clock')
  const before = Date.now()
  const row = await sql<{ ms: number | string }>`select (extract(epoch from now()) * 1000)::float8 as ms`.execute(db)
  const after = Date.now()
  const skew = Math.round(Number(row.rows[0]!.ms) - (before + after) / 2)
  const text = `the database's clock is ${Math.abs(skew) / 1000} s ${skew >= 0 ? 'ahead of' : 'behind'} this host's (query round trip ${after - before} ms)`
  const fix = 'synchronise both hosts with NTP (chrony, systemd-timesyncd)'
  if (Math.abs(skew) > SKEW_FAIL_MS) return fail(name, `${text}: SAML sign-in (60 s tolerance) and expiry times are affected`, fix)
  if (Math.abs(skew) > SKEW_WARN_MS) return warn(name, `${text}: more than ${SKEW_WARN_MS / 1000} s`, fix)
  return ok(name, text)
}
