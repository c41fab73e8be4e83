import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { FileMigrationProvider, Migrator, sql, type Kysely, type MigrationResultSet } from 'kysely'
import type { Database } from './database.js'

/**
 * The migrations folder; migrations are loaded by path and imported by nobody
 * else. From the bundle in dist/bundle/cli/ (bin/build.js) the path is the same.
 */
export const migrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations')

/** Result of one migration, for printing. */
export interface MigrationReport {
  name: string
  status: 'Success' | 'Error' | 'NotExecuted'
}

/**
 * Runs every pending migration in order (kysely's Migrator takes a lock, so
 * replicas starting together do not race). Throws with the failing migration's
 * name on error.
 */
export async function migrateToLatest(db: Kysely<Database>): Promise<MigrationReport[]> {
  if (await upToDate(db)) return []
  const migrator = new Migrator({ db, provider: new FileMigrationProvider({ fs, path, migrationFolder: migrationsDir }) })
  const { error, results }: MigrationResultSet = await migrator.migrateToLatest()
  const report = (results ?? []).map((r) => ({ name: r.migrationName, status: r.status }))
  if (error) {
    const failed = report.find((r) => r.status === 'Error')?.name ?? 'unknown'
    throw new Error(`migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`)
  }
  return report
}

/** The migrations' names (their file names without extension), in order. */
export async function migrationNames(): Promise<string[]> {
  // Sources are .ts; the compiled build (dist/) has .js (and .js.map, which is skipped).
  return (await fs.readdir(migrationsDir)).filter((f) => /^\d{4}_[a-z0-9_]+\.(ts|js)$/.test(f)).map((f) => f.replace(/\.(ts|js)$/, '')).sort()
}

/**
 * True when every migration file is recorded as applied: one query instead
 * of the Migrator's lock and introspection round trips, which cost half a
 * second of start-up on the embedded database. Anything unexpected (no
 * table yet, a missing or unknown name) returns false and the Migrator runs.
 */
async function upToDate(db: Kysely<Database>): Promise<boolean> {
  const files = await migrationNames()
  try {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(db)
    const applied = new Set(rows.map((r) => r.name))
    return applied.size === files.length && files.every((f) => applied.has(f))
  } catch {
    return false
  }
}
