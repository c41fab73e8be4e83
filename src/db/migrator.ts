import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { FileMigrationProvider, Migrator, type Kysely, type MigrationResultSet } from 'kysely'
import type { Database } from './database.js'

/** The migrations folder; migrations are loaded by path and imported by nobody else. */
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
  const migrator = new Migrator({ db, provider: new FileMigrationProvider({ fs, path, migrationFolder: migrationsDir }) })
  const { error, results }: MigrationResultSet = await migrator.migrateToLatest()
  const report = (results ?? []).map((r) => ({ name: r.migrationName, status: r.status }))
  if (error) {
    const failed = report.find((r) => r.status === 'Error')?.name ?? 'unknown'
    throw new Error(`migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`)
  }
  return report
}
