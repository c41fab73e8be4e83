import 'reflect-metadata'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import type { Clock } from '../ca/index.js'
import { buildApp } from '../src/app.js'
import { initCa } from '../src/startup/ca-loader.js'
import { loadConfig, type Config } from '../src/config.js'
import { openDatabase, type DatabaseHandle } from '../src/db/connect.js'
import { migrateToLatest, migrationsDir } from '../src/db/migrator.js'
import { createToken } from '../src/db/token-repository.js'
import { createServices, type KagiServices } from '../src/startup/services.js'
import type { Logger } from 'pino'

interface Teardown {
  teardown: (fn: () => unknown) => void
}

/** Which database the tests run on: PostgreSQL when DATABASE_URL is set (CI's second pass), else PGlite. */
export const databaseKind = process.env.DATABASE_URL ? 'postgres' : 'pglite'

/**
 * A fresh PostgreSQL database for one test (created from DATABASE_URL's
 * server, dropped at teardown). Returns its URL.
 */
export async function freshPostgresUrl(t: Teardown): Promise<string> {
  const admin = new URL(process.env.DATABASE_URL!)
  const name = `kagi_test_${randomBytes(6).toString('hex')}`
  const client = new pg.Client({ connectionString: admin.toString() })
  await client.connect()
  await client.query(`create database ${name}`)
  await client.end()
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: admin.toString() })
    await c.connect()
    await c.query(`drop database if exists ${name} with (force)`)
    await c.end()
  })
  const url = new URL(admin.toString())
  url.pathname = `/${name}`
  return url.toString()
}

/**
 * A migrated PGlite snapshot, cached in the temp directory by a hash of the
 * migrations: creating a PGlite database takes seconds, loading a snapshot
 * a fraction of that.
 */
async function pgliteSnapshot(): Promise<Blob> {
  const hash = createHash('sha256')
  for (const file of readdirSync(migrationsDir).sort()) hash.update(file).update(readFileSync(join(migrationsDir, file)))
  const path = join(tmpdir(), `kagi-pglite-${hash.digest('hex').slice(0, 16)}.tar`)
  if (!existsSync(path)) {
    const handle = await openDatabase({ dataDir: '', memory: true })
    await migrateToLatest(handle.db)
    const dump = await handle.pglite!.dumpDataDir('none')
    const tmp = `${path}.${process.pid}`
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()))
    renameSync(tmp, path)
    await handle.close()
  }
  return new Blob([readFileSync(path)])
}

/** A fresh, migrated database for one test, closed at teardown. */
export async function testDatabase(t: Teardown): Promise<DatabaseHandle> {
  let handle: DatabaseHandle
  if (process.env.DATABASE_URL) {
    handle = await openDatabase({ url: await freshPostgresUrl(t), dataDir: '' })
    await migrateToLatest(handle.db)
  } else {
    handle = await openDatabase({ dataDir: '', memory: true, snapshot: await pgliteSnapshot() })
  }
  t.teardown(() => handle.close())
  return handle
}

/** Test configuration: a throwaway data dir, a fixed passphrase, a public URL that names no real host. */
export function testConfig(t: Teardown, env: Record<string, string> = {}): Readonly<Config> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-data-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  // No RSA key pool unless a test asks for one: a test app idle for 10 s would otherwise spend both cores filling 800 keys.
  return loadConfig({ KAGI_DATA_DIR: dataDir, KAGI_CA_PASSPHRASE: 'test-passphrase-0123456789', KAGI_PUBLIC_URL: 'http://kagi.test', KAGI_KEY_POOL_SIZE: '0', ...env })
}

/** What `build` returns. */
export interface TestApp {
  app: FastifyInstance
  services: KagiServices
  database: DatabaseHandle
  adminToken: string
  mdmToken: string
  /** Authorization headers for each role. */
  as: { admin: Record<string, string>; mdm: Record<string, string> }
}

/** Boots kagi on a fresh database with a new CA, for `app.inject()` tests. */
export async function build(t: Teardown, options: { env?: Record<string, string>; clock?: Clock; log?: Logger } = {}): Promise<TestApp> {
  const config = testConfig(t, options.env)
  const database = await testDatabase(t)
  const { ca } = await initCa(database.db, config, config.caPassphrase!)
  const services = createServices(config, database.db, ca, { clock: options.clock, passphrase: config.caPassphrase, pool: database.pool, log: options.log })
  await services.start()
  t.teardown(() => services.stop())
  const app = await buildApp(services, options.log ? { loggerInstance: options.log } : {})
  t.teardown(() => app.close())
  const adminToken = (await createToken(database.db, 'admin', 'test-admin')).token
  const mdmToken = (await createToken(database.db, 'mdm', 'test-mdm')).token
  return {
    app,
    services,
    database,
    adminToken,
    mdmToken,
    as: { admin: { authorization: `Bearer ${adminToken}` }, mdm: { authorization: `Bearer ${mdmToken}` } },
  }
}
