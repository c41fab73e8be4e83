import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { Kysely, PostgresDialect } from 'kysely'
// pg is loaded only for PostgreSQL, as PGlite only for the embedded database (about 80 ms of a start each).
import type pg from 'pg'
import type { Database } from './database.js'
import { dataDirLockPath, DataDirLockedError, lockDataDir } from './data-dir-lock.js'
import { PGliteDialect } from './pglite-dialect.js'

/** A connection pool's counts, as pg's Pool keeps them (read by the metrics). */
export type PoolStats = Pick<pg.Pool, 'totalCount' | 'idleCount' | 'waitingCount'>

/** An open database and how to close it. */
export interface DatabaseHandle {
  db: Kysely<Database>
  kind: 'postgres' | 'pglite'
  /** The pg pool, when kind is postgres (PGlite is one embedded connection, no pool). */
  pool?: PoolStats
  close(): Promise<void>
  /** The embedded instance, when kind is pglite (tests dump it as a snapshot). */
  pglite?: { dumpDataDir(compression?: 'none' | 'gzip' | 'auto'): Promise<Blob> }
  /** How an embedded database on disk was created by this open: a copy of the build's template, or initdb; absent when it existed. */
  created?: { from: 'template' } | { from: 'initdb'; why: string }
}

/** Where to connect. */
export interface DatabaseOptions {
  /** postgres:// URL; without it the embedded PGlite database is used. */
  url?: string
  /** For PGlite: the data directory (the database lives in `<dataDir>/db`). */
  dataDir: string
  /** For PGlite: keep the database in memory (tests). */
  memory?: boolean
  /** For PGlite: start from this dumped data directory (tests). */
  snapshot?: Blob
  /** pg pool size; default 10. */
  poolSize?: number
  /** Who opens it, written into the lock file. */
  purpose?: string
  /** For PGlite: how long to wait for another process to release the data directory (default 0: fail at once). */
  lockWaitMs?: number
  /**
   * For PGlite: called once the data directory is locked, before PGlite opens (or first creates) its
   * database, with whether that database exists yet (kagi serve prepares a new CA meanwhile).
   * Not earlier: a CLI command started together with the server must find the lock taken.
   */
  onLocked?: (databaseExists: boolean) => void
  /** For PGlite: the template a new database is copied from (default: the build's, see pglite-template.ts); false for initdb. */
  templateDir?: string | false
}

const LOCK_POLL_MS = 250

/**
 * PostgreSQL's shared buffers inside the embedded database. PGlite's default
 * (128 MB, from initdb) is resident in kagi's own process once touched; its
 * files are read through the operating system's page cache anyway, so a
 * smaller pool costs little and keeps the process's memory near PostgreSQL
 * deployments' (README, "Performance").
 */
export const PGLITE_SHARED_BUFFERS = '16MB'

/**
 * PGlite's WebAssembly PostgreSQL is run by V8's baseline compiler (Liftoff)
 * only, without the tier-up to TurboFan of the functions it finds hot. Those
 * optimizing compilations run on V8's background threads, and the memory they
 * allocate stays with the threads' malloc arenas once freed (`malloc_trim(0)`
 * called from a debugger gave it back): about 55 MB of resident memory, which
 * kept the embedded database's peak above the 250 MB target. Liftoff code is
 * slower, but PGlite's share of a request is small; README, "Performance"
 * ("Memory"), has the figures with and without.
 * PostgreSQL deployments never load PGlite and keep V8's defaults. The flag is
 * read when a WebAssembly function is compiled or tiered, so it is set before
 * PGlite's module is. It holds for the whole process: the only other
 * WebAssembly is the HTTP parser of Node's fetch(), used for the SAML metadata
 * and `kagi doctor`, a few requests.
 */
function runPgliteOnBaselineCompiler(): void {
  setFlagsFromString('--liftoff-only')
}

/** PGlite's own start parameters plus kagi's settings (startParams replaces the defaults, so they are repeated). */
export function pgliteStartParams(defaults: readonly string[]): string[] {
  return [...defaults, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`]
}

/** Takes the data directory's lock, retrying while another process holds it, for at most `waitMs`. */
async function lockWaiting(lockPath: string, what: string, waitMs: number): Promise<() => void> {
  for (let waited = 0; ; waited += LOCK_POLL_MS) {
    try {
      return lockDataDir(lockPath, what)
    } catch (error) {
      if (!(error instanceof DataDirLockedError) || waited >= waitMs) throw error
      await new Promise((r) => setTimeout(r, LOCK_POLL_MS))
    }
  }
}

/**
 * Opens PostgreSQL (DATABASE_URL) or the embedded PGlite database. PGlite is
 * loaded only when used, so a PostgreSQL deployment never pays for it.
 */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) {
    const { default: pgModule } = await import('pg')
    const pool = new pgModule.Pool({ connectionString: options.url, max: options.poolSize ?? 10 })
    // A dropped idle connection must not crash the process; the pool replaces it.
    pool.on('error', () => {})
    // The pool listens for errors only on idle connections. One checked out between two queries
    // (a transaction doing JS work) when PostgreSQL terminates it (restart, failover, 57P01) would
    // emit an unhandled 'error' and crash the process: the next query on it fails instead, and the
    // pool drops it when it is released (it is no longer queryable).
    pool.on('connect', (client) => client.on('error', () => {}))
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
    return { db, kind: 'postgres', pool, close: () => db.destroy() }
  }
  runPgliteOnBaselineCompiler()
  const { PGlite } = await import('@electric-sql/pglite')
  let release = (): void => {}
  let pglite
  let created: DatabaseHandle['created']
  if (options.memory) {
    pglite = new PGlite({ loadDataDir: options.snapshot, startParams: pgliteStartParams(PGlite.defaultStartParams) })
  } else {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 })
    release = await lockWaiting(dataDirLockPath(options.dataDir), options.purpose ?? `kagi ${process.argv.slice(2).join(' ')}`, options.lockWaitMs ?? 0)
    try {
      const path = join(options.dataDir, 'db')
      const exists = existsSync(join(path, 'PG_VERSION'))
      options.onLocked?.(exists)
      // A directory without PG_VERSION is an initdb that never finished: PGlite handles it as before.
      if (!exists && !existsSync(path)) created = await createFromTemplate(path, options.templateDir)
      pglite = new PGlite(path, { startParams: pgliteStartParams(PGlite.defaultStartParams) })
      await pglite.waitReady
    } catch (error) {
      release()
      throw error
    }
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) })
  return {
    db,
    kind: 'pglite',
    pglite,
    ...(created ? { created } : {}),
    close: async () => {
      try {
        await db.destroy()
      } finally {
        release()
      }
    },
  }
}

/** A new embedded database: the build's template copied (pglite-template.ts), or else left to PGlite's initdb, with why. */
async function createFromTemplate(path: string, templateDir: string | false | undefined): Promise<NonNullable<DatabaseHandle['created']>> {
  if (templateDir === false) return { from: 'initdb', why: 'no template wanted' }
  const { copyTemplate } = await import('./pglite-template.js')
  const result = await copyTemplate(path, templateDir)
  return result.copied ? { from: 'template' } : { from: 'initdb', why: result.why }
}
