import { pino } from 'pino'
import type { Config } from './config.js'
import { openRuntime, runtimeServices } from './startup/runtime.js'

/**
 * `kagi serve`: open the database, migrate, load or create the CA, listen,
 * and close cleanly on SIGINT/SIGTERM (in-flight requests finish, the
 * embedded database is flushed and unlocked).
 */
export async function serve(config: Readonly<Config>): Promise<void> {
  const started = performance.now()
  // The database opens (PGlite compiles its WebAssembly off the main thread) while the HTTP modules load.
  const opening = openRuntime(config, 'kagi serve')
  const { buildApp, redactPaths } = await import('./app.js')
  const log = pino({ level: config.logLevel, redact: { paths: redactPaths, censor: '[redacted]' } })
  const runtime = await opening
  const services = (await runtimeServices(runtime, { log }))!
  await services.start()
  const app = await buildApp(services, { loggerInstance: log })
  for (const w of runtime.dataDirWarnings) app.log.warn({ path: w.path, mode: w.mode || undefined }, w.message)
  if (runtime.passphrase.warning) app.log.warn(runtime.passphrase.warning)
  const applied = runtime.migrations.filter((m) => m.status === 'Success').map((m) => m.name)
  if (applied.length) app.log.info({ migrations: applied }, 'database migrated')
  let closing = false
  const shutdown = async (signal: string): Promise<void> => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down')
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    try {
      await services.stop()
      await app.close()
    } finally {
      await runtime.database.close()
    }
  }
  process.once('SIGINT', () => void shutdown('SIGINT'))
  process.once('SIGTERM', () => void shutdown('SIGTERM'))
  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (error) {
    await runtime.database.close()
    throw error
  }
  app.log.info(
    { url: config.publicUrl, database: runtime.database.kind, ca: services.ca.issuing.notAfter.toISOString(), readyMs: Math.round(performance.now() - started) },
    `kagi ready on ${config.publicUrl}`,
  )
}
