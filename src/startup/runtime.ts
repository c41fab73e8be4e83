import type { Config } from '../config.js'
import { openDatabase, type DatabaseHandle } from '../db/connect.js'
import { migrateToLatest, type MigrationReport } from '../db/migrator.js'
import { secureDataDir, type DataDirWarning } from './data-dir.js'
import { resolvePublicUrl, withStoredPublicUrl } from './public-url.js'
import { resolvePassphrase, type Passphrase } from './passphrase.js'
import type { Log } from '../revocation/crl-publisher.js'
import type { KagiServices } from './services.js'

/** An open database with the schema migrated, and the CA passphrase. */
export interface Runtime {
  /** The configuration to use: its public URL is the one stored with the CA once there is one (see public-url.ts). */
  config: Readonly<Config>
  database: DatabaseHandle
  passphrase: Passphrase
  migrations: MigrationReport[]
  /** What securing KAGI_DATA_DIR changed, for the caller to log as warnings. */
  dataDirWarnings: DataDirWarning[]
  /** About the public URL (adopted for an older CA, or loopback outside development), for the caller to log as warnings. */
  publicUrlNotes: string[]
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
 * one, waiting up to `lockWaitMs` for another process to release it), runs
 * pending migrations and takes the public URL stored with the CA, refusing a
 * KAGI_PUBLIC_URL that differs unless `anyPublicUrl` (the command that changes it).
 */
export async function openRuntime(config: Readonly<Config>, purpose: string, options: { lockWaitMs?: number; anyPublicUrl?: boolean } = {}): Promise<Runtime> {
  const dataDirWarnings = secureDataDir(config.dataDir)
  const passphrase = resolvePassphrase(config)
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize, purpose, lockWaitMs: options.lockWaitMs })
  try {
    const migrations = await migrateToLatest(database.db)
    const resolved = options.anyPublicUrl ? { config, notes: [] } : await resolvePublicUrl(database.db, config)
    return { config: resolved.config, database, passphrase, migrations, dataDirWarnings, publicUrlNotes: resolved.notes }
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
  if (!ca) return undefined
  // A replica starting at the same time may have created the CA since the runtime opened, with its own URL.
  if (ca.publicUrl) runtime.config = withStoredPublicUrl(runtime.config, ca.publicUrl)
  return createServices(runtime.config, db, ca, { passphrase: runtime.passphrase.value, log: options.log, pool: runtime.database.pool })
}
