import type { Config } from '../config.js'
import { openDatabase, type DatabaseHandle } from '../db/connect.js'
import { migrateToLatest, type MigrationReport } from '../db/migrator.js'
import { secureDataDir, type DataDirWarning } from './data-dir.js'
import { resolvePassphrase, type Passphrase } from './passphrase.js'
import type { Log } from '../revocation/crl-publisher.js'
import type { KagiServices } from './services.js'

/** An open database with the schema migrated, and the CA passphrase. */
export interface Runtime {
  config: Readonly<Config>
  database: DatabaseHandle
  passphrase: Passphrase
  migrations: MigrationReport[]
  /** What securing KAGI_DATA_DIR changed, for the caller to log as warnings. */
  dataDirWarnings: DataDirWarning[]
  /**
   * The services of the `kagi serve` this runtime belongs to, for CLI commands
   * forwarded to it: they share its OCSP cache and CRL publishers, so a
   * revocation is answered at once. Their start and stop do nothing (the server owns the timers).
   */
  services?: KagiServices
}

/**
 * Makes the data directory private (before anything in it is read or
 * written), resolves the passphrase, opens the database (locking an embedded
 * one, waiting up to `lockWaitMs` for another process to release it) and
 * runs pending migrations.
 */
export async function openRuntime(config: Readonly<Config>, purpose: string, options: { lockWaitMs?: number } = {}): Promise<Runtime> {
  const dataDirWarnings = secureDataDir(config.dataDir)
  const passphrase = resolvePassphrase(config)
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize, purpose, lockWaitMs: options.lockWaitMs })
  try {
    const migrations = await migrateToLatest(database.db)
    return { config, database, passphrase, migrations, dataDirWarnings }
  } catch (error) {
    await database.close()
    throw error
  }
}

/** Services over the runtime's CA, creating the CA on first use unless `create` is false (or the running server's, see {@link Runtime.services}). */
export async function runtimeServices(runtime: Runtime, options: { create?: boolean; log?: Log } = {}): Promise<KagiServices | undefined> {
  if (runtime.services) return runtime.services
  // Loaded here rather than at the top: `kagi serve` opens the database while these load.
  const [{ ensureCa, loadCa }, { createServices }] = await Promise.all([import('./ca-loader.js'), import('./services.js')])
  const db = runtime.database.db
  const ca = options.create === false ? await loadCa(db, runtime.passphrase.value) : await ensureCa(db, runtime.config, runtime.passphrase.value)
  return ca ? createServices(runtime.config, db, ca, { passphrase: runtime.passphrase.value, log: options.log }) : undefined
}
