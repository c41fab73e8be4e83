import { pino } from 'pino'
import type { Config } from './config.js'
import type { CommandSocket } from './cli/socket/listen.js'
import { openRuntime, runtimeServices } from './startup/runtime.js'

/**
 * `kagi serve`: open the database, migrate, load or create the CA, listen
 * (on the embedded database also on the CLI's Unix socket), and close cleanly on SIGINT/SIGTERM (in-flight requests finish, the
 * embedded database is flushed and unlocked).
 */
export async function serve(config: Readonly<Config>): Promise<void> {
  const started = performance.now()
  // The database opens (PGlite compiles its WebAssembly off the main thread) while the HTTP modules load.
  // A CLI command holding the embedded database (one started just before the server) is waited for.
  const opening = openRuntime(config, 'kagi serve', { lockWaitMs: 30_000 })
  // A refusal (a KAGI_PUBLIC_URL the CA disagrees with, an unreachable database) can come before the
  // modules have loaded: marked handled here, it is still thrown by `await opening` and reported tidily.
  opening.catch(() => {})
  const { buildApp, redactPaths } = await import('./app.js')
  const log = pino({ level: config.logLevel, redact: { paths: redactPaths, censor: '[redacted]' } })
  const runtime = await opening
  const services = (await runtimeServices(runtime, { log }))!
  await services.start()
  const app = await buildApp(services, { loggerInstance: log })
  for (const w of runtime.dataDirWarnings) app.log.warn({ path: w.path, mode: w.mode || undefined }, w.message)
  if (runtime.passphrase.warning) app.log.warn(runtime.passphrase.warning)
  for (const note of runtime.publicUrlNotes) app.log.warn(note)
  const applied = runtime.migrations.filter((m) => m.status === 'Success').map((m) => m.name)
  if (applied.length) app.log.info({ migrations: applied }, 'database migrated')
  // Loaded meanwhile like the HTTP modules; only the embedded database needs it (see cli/socket/listen.ts).
  const commandSocket = runtime.database.kind === 'pglite' ? import('./cli/socket/listen.js') : undefined
  let cli: CommandSocket | undefined
  let closing = false
  const shutdown = async (signal: string): Promise<void> => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down')
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    try {
      // Commands forwarded by the CLI finish first: they use the services and the database.
      await cli?.close()
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
  if (commandSocket) {
    try {
      cli = await (await commandSocket).listenForCommands(runtime, services, app.log)
      if (cli) app.log.info({ path: cli.path }, 'CLI commands are run here while kagi serve holds the embedded database')
    } catch (error) {
      // The HTTP service does not depend on it: CLI commands then need the server stopped, as the lock says.
      app.log.warn({ err: error }, 'cannot listen on the CLI socket')
    }
  }
  app.log.info(
    { url: services.config.publicUrl, database: runtime.database.kind, ca: services.ca.issuing.notAfter.toISOString(), readyMs: Math.round(performance.now() - started) },
    `kagi ready on ${services.config.publicUrl}`,
  )
}
