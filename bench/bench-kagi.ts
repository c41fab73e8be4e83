import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { openDatabase, type DatabaseHandle } from '../src/db/connect.js'
import { migrateToLatest } from '../src/db/migrator.js'
import { initCa } from '../src/startup/ca-loader.js'
import { createServices, type KagiServices } from '../src/startup/services.js'
import { memoryDatabase } from './memory-database.js'
import { progress } from './progress.js'
import { startKagiServe, stopKagiServe } from './kagi-serve.js'

/** kagi running inside the bench process for one phase. */
export interface BenchKagi {
  database: DatabaseHandle
  services: KagiServices
  app: FastifyInstance
  /** `http://127.0.0.1:<port>`. */
  origin: string
  /** Stops the app and services and closes the database. */
  close(): Promise<void>
}

/**
 * A fresh kagi for a bench phase, in this process: a new CA on `databaseUrl`
 * (or an in-memory PGlite), services started, listening on a free loopback
 * port. In process, so a phase can prepare its data through the services
 * directly and time only the HTTP traffic of its load client.
 */
/** The configuration both kinds of bench server share (the CA is created by the in-process one). */
const BENCH_ENV = { KAGI_CA_PASSPHRASE: 'bench-passphrase-0123456789', KAGI_PUBLIC_URL: 'http://127.0.0.1', KAGI_KEY_POOL_SIZE: '0' }

/**
 * `kagi serve` spawned with KAGI_WORKERS=`workers` on the database a phase
 * prepared (its CA, passphrase and public URL), on a free loopback port.
 */
export async function startClusterServer(databaseUrl: string, workers: number): Promise<{ origin: string; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-bench-cluster-'))
  const port = 20000 + Math.floor(Math.random() * 20000)
  try {
    const { child, origin } = await startKagiServe(
      { PATH: process.env.PATH, HOME: dataDir, ...BENCH_ENV, DATABASE_URL: databaseUrl, KAGI_DATA_DIR: dataDir, KAGI_WORKERS: String(workers), KAGI_LOG_LEVEL: 'warn' },
      port,
    )
    // The first process answers /readyz before the others have started (the primary logs when all have; the bench reads no logs): 3 s more.
    await new Promise((r) => setTimeout(r, 3000))
    return {
      origin,
      async stop() {
        await stopKagiServe(child)
        rmSync(dataDir, { recursive: true, force: true })
      },
    }
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
}

export async function startBenchKagi(dataDir: string, databaseUrl: string | undefined): Promise<BenchKagi> {
  const config = loadConfig({ ...BENCH_ENV, KAGI_DATA_DIR: dataDir, KAGI_LOG_LEVEL: 'silent', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) })
  const database = databaseUrl ? await openDatabase({ url: databaseUrl, dataDir }) : await memoryDatabase()
  try {
    await migrateToLatest(database.db)
    const { ca } = await initCa(database.db, config, config.caPassphrase!)
    const services = createServices(config, database.db, ca, { passphrase: config.caPassphrase, exportCrls: false, log: { info: () => {}, warn: (o, m) => progress(`warning: ${m} ${JSON.stringify(o)}`), error: (o, m) => progress(`error: ${m} ${(o as { err?: Error }).err?.stack ?? ''}`) } })
    await services.start()
    const app = await buildApp(services)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const origin = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
    return {
      database,
      services,
      app,
      origin,
      async close() {
        await app.close()
        await services.stop()
        await database.close()
      },
    }
  } catch (error) {
    await database.close()
    throw error
  }
}
