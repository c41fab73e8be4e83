import { sql } from 'kysely'
import type { Config } from '../config.js'
import { openDatabase, type DatabaseHandle } from '../db/connect.js'
import { migrateToLatest, type MigrationReport } from '../db/migrator.js'
import { secureDataDir, type DataDirWarning } from './data-dir.js'
import { resolvePublicUrl, withStoredPublicUrl } from './public-url.js'
import { resolvePassphrase, type Passphrase } from './passphrase.js'
import type { Log } from '../revocation/crl-publisher.js'
import type { KagiServices } from './services.js'
import type { KnownIssuingKey, PreparedHierarchy } from './ca-loader.js'
// The module alone, not ca/index.js: every CLI command loads this file.
import { decryptPrivateKeyAsync } from '../../ca/key-encryption.js'

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
  /** A CA hierarchy generated and encrypted while the database opened, when there was no CA yet (see {@link openRuntime}'s `prepareCa`). */
  preparedCa?: Promise<PreparedHierarchy | undefined>
  /** The active issuing key, decrypted while migrations ran (`prepareCa`); loadCa uses it if the CA is still stored so. */
  issuingKey?: Promise<KnownIssuingKey | undefined>
}

/**
 * Makes the data directory private (before anything in it is read or
 * written), resolves the passphrase, opens the database (locking an embedded
 * one, waiting up to `lockWaitMs` for another process to release it), runs
 * pending migrations and takes the public URL stored with the CA, refusing a
 * KAGI_PUBLIC_URL that differs unless `anyPublicUrl` (the command that changes it).
 *
 * With `prepareCa` (kagi serve), the CA's 600,000-iteration PBKDF2 work
 * starts early, on the thread pool: a database that has no CA yet gets one
 * generated while PGlite creates its database or the schema migrates (and
 * {@link runtimeServices} stores it); an existing CA's issuing key is
 * decrypted while the migrations are checked.
 */
export async function openRuntime(config: Readonly<Config>, purpose: string, options: { lockWaitMs?: number; anyPublicUrl?: boolean; prepareCa?: boolean } = {}): Promise<Runtime> {
  const dataDirWarnings = secureDataDir(config.dataDir)
  const passphrase = resolvePassphrase(config)
  // A failure here only means initCa generates the CA itself, as without prepareCa.
  const prepare = (): Promise<PreparedHierarchy | undefined> =>
    import('./ca-loader.js').then(({ prepareHierarchy }) => prepareHierarchy(config, passphrase.value)).catch(() => undefined)
  let preparedCa: Promise<PreparedHierarchy | undefined> | undefined
  let issuingKey: Promise<KnownIssuingKey | undefined> | undefined
  // A new PGlite database (its initdb takes seconds): the CA is prepared meanwhile.
  const onLocked = options.prepareCa
    ? (databaseExists: boolean): void => {
        if (!databaseExists) preparedCa = prepare()
      }
    : undefined
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize, purpose, lockWaitMs: options.lockWaitMs, onLocked })
  try {
    if (options.prepareCa && !preparedCa) {
      const stored = await storedIssuingKey(database)
      if (stored) issuingKey = decryptPrivateKeyAsync(stored, passphrase.value).then((key) => ({ encryptedKey: stored, key }), () => undefined)
      else preparedCa = prepare()
    }
    const migrations = await migrateToLatest(database.db)
    const resolved = options.anyPublicUrl ? { config, notes: [] } : await resolvePublicUrl(database.db, config)
    return { config: resolved.config, database, passphrase, migrations, dataDirWarnings, publicUrlNotes: resolved.notes, preparedCa, issuingKey }
  } catch (error) {
    await database.close()
    throw error
  }
}

/** The active issuing CA's encrypted key, or undefined when there is none (or no schema yet); one query, before migrations. */
async function storedIssuingKey(database: DatabaseHandle): Promise<string | undefined> {
  try {
    // Asked first so that a new database's PostgreSQL log shows no "relation does not exist" error.
    const { rows: [table] } = await sql<{ t: string | null }>`select to_regclass('ca_certificate')::text as t`.execute(database.db)
    if (!table?.t) return undefined
    const { rows } = await sql<{ encrypted_key: string }>`select encrypted_key from ca_certificate where active and role = 'issuing'`.execute(database.db)
    return rows[0]?.encrypted_key || undefined
  } catch {
    return undefined
  }
}

/** Services over the runtime's CA, creating the CA on first use unless `create` is false (or the running server's, see {@link Runtime.services}). */
export async function runtimeServices(runtime: Runtime, options: { create?: boolean; log?: Log } = {}): Promise<KagiServices | undefined> {
  if (runtime.services) return runtime.services
  // Loaded here rather than at the top: `kagi serve` opens the database while these load.
  const [{ ensureCa, loadCa }, { createServices }] = await Promise.all([import('./ca-loader.js'), import('./services.js')])
  const db = runtime.database.db
  const ca = options.create === false ? await loadCa(db, runtime.passphrase.value) : await ensureCa(db, runtime.config, runtime.passphrase.value, { prepared: runtime.preparedCa, known: await runtime.issuingKey })
  if (!ca) return undefined
  // A replica starting at the same time may have created the CA since the runtime opened, with its own URL.
  if (ca.publicUrl) runtime.config = withStoredPublicUrl(runtime.config, ca.publicUrl)
  return createServices(runtime.config, db, ca, { passphrase: runtime.passphrase.value, log: options.log, pool: runtime.database.pool })
}
