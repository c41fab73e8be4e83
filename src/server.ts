import cluster from 'node:cluster'
import { ConfigError, type Config } from './config.js'
import type { CommandSocket } from './cli/socket/listen.js'
import { createLogger } from './log.js'
import { join } from 'node:path'
import type { BannerFacts } from './startup/banner.js'
import { openRuntime, runtimeServices, type Runtime } from './startup/runtime.js'

/**
 * How long shutdown waits for requests in flight (and forwarded CLI
 * commands) before the process exits with 1 anyway: longer than any normal
 * request, shorter than Kubernetes' default 30 s grace period before SIGKILL.
 */
export const SHUTDOWN_GRACE_MS = 10_000

/**
 * `kagi serve`: open the database, migrate, load or create the CA, listen
 * (on the embedded database also on the CLI's Unix socket), and close cleanly
 * on SIGINT/SIGTERM: GET /readyz answers 503 at once, the listener closes,
 * requests in flight finish (at most {@link SHUTDOWN_GRACE_MS}), then the
 * database (the pool, or the embedded database flushed and unlocked).
 */
export async function serve(config: Readonly<Config>): Promise<void> {
  // KAGI_WORKERS > 1: this process supervises that many `kagi serve` processes on one port (PostgreSQL only).
  if (config.workers > 1 && cluster.isPrimary) return (await import('./startup/cluster-primary.js')).superviseWorkers(config)
  const inCluster = config.workers > 1 && cluster.isWorker
  // The IPC channel alone must not keep this process alive: it exits after its shutdown, or when it cannot start, as a single `kagi serve` does.
  if (inCluster) process.channel?.unref()
  // The morning's key pool is the whole cluster's: each process keeps its share.
  if (inCluster) config = Object.freeze({ ...config, keyPoolSize: Math.ceil(config.keyPoolSize / config.workers) })
  const started = performance.now()
  // The database opens (PGlite compiles its WebAssembly off the main thread) while the HTTP modules load.
  // A CLI command holding the embedded database (one started just before the server) is waited for.
  const opening = openRuntime(config, 'kagi serve', { lockWaitMs: 30_000, prepareCa: true })
  // A refusal (a KAGI_PUBLIC_URL the CA disagrees with, an unreachable database) can come before the
  // modules have loaded: marked handled here, it is still thrown by `await opening` and reported tidily.
  opening.catch(() => {})
  const [{ buildApp }, { signInMode }, { startupBanner }] = await Promise.all([import('./app.js'), import('./web/routes.js'), import('./startup/banner.js')])
  await refuseWithoutSignIn(config, opening, signInMode)
  // On a terminal a person reads the lines; anywhere else (a pipe, a container's log) they stay JSON.
  const log = createLogger({ level: config.logLevel, pretty: process.stdout.isTTY === true })
  const runtime = await opening
  // A refusal here (a wrong passphrase) closes the pool: its idle connections would hold the exit for 10 s.
  const services = (await runtimeServices(runtime, { log }).catch(async (error: unknown) => {
    await runtime.database.close()
    throw error
  }))!
  const clusterChannel = inCluster ? (await import('./startup/cluster-worker.js')).joinCluster(services) : undefined
  // start()'s PBKDF2 runs (session key, service credentials) wait on the thread pool while the routes are
  // built on the main thread; nothing listens before both are done (the session plugin awaits the key itself).
  const [, app] = await Promise.all([services.start(), buildApp(services, { loggerInstance: log })])
  for (const w of runtime.dataDirWarnings) app.log.warn({ path: w.path, mode: w.mode || undefined }, w.message)
  if (runtime.passphrase.warning) app.log.warn(runtime.passphrase.warning)
  for (const note of runtime.publicUrlNotes) app.log.warn(note)
  const applied = runtime.migrations.filter((m) => m.status === 'Success').map((m) => m.name)
  if (runtime.database.created) app.log.info(runtime.database.created, 'embedded database created')
  if (applied.length) app.log.info({ migrations: applied }, 'database migrated')
  // Loaded meanwhile like the HTTP modules; only the embedded database needs it (see cli/socket/listen.ts).
  const commandSocket = runtime.database.kind === 'pglite' ? import('./cli/socket/listen.js') : undefined
  let cli: CommandSocket | undefined
  let closing = false
  let checkListener: { close(): Promise<void> } | undefined
  const shutdown = async (signal: string): Promise<void> => {
    if (closing) return
    closing = true
    // First of all, so that load balancers stop sending requests here.
    services.draining = true
    app.log.info({ signal }, 'shutting down: finishing the requests in flight')
    // Unref'd: a clean shutdown exits with 0 as soon as nothing is left; this fires only if something hangs.
    const force = setTimeout(() => {
      app.log.error(`shutdown did not finish within ${SHUTDOWN_GRACE_MS / 1000} s: exiting`)
      process.exit(1)
    }, SHUTDOWN_GRACE_MS)
    force.unref()
    try {
      // app.close() stops accepting connections, answers 503 to new requests on open ones (return503OnClosing)
      // and waits for those in flight; commands forwarded by the CLI finish meanwhile. Both use the services.
      await Promise.all([app.close(), cli?.close(), checkListener?.close()])
      await services.stop()
    } finally {
      await runtime.database.close()
      clusterChannel?.close()
    }
    app.log.info('stopped')
  }
  const onSignal = (signal: string) => () => {
    shutdown(signal).catch((error) => {
      app.log.error({ err: error }, 'shutdown failed')
      process.exitCode = 1
    })
  }
  process.once('SIGINT', onSignal('SIGINT'))
  process.once('SIGTERM', onSignal('SIGTERM'))
  // Before the HTTP port: once GET /readyz answers, a CLI command finds the socket (the lock names this server).
  if (commandSocket) {
    try {
      cli = await (await commandSocket).listenForCommands(runtime, services, app.log)
      if (cli) app.log.info({ path: cli.path }, 'CLI commands are run here while kagi serve holds the embedded database')
    } catch (error) {
      // The HTTP service does not depend on it: CLI commands then need the server stopped, as the lock says.
      app.log.warn({ err: error }, 'cannot listen on the CLI socket')
    }
  }
  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (error) {
    await cli?.close()
    await runtime.database.close()
    throw error
  }
  if (config.check?.listen) {
    // KAGI_CHECK_LISTEN, the "check my device" HTTPS listener; the main service does not depend on it.
    try {
      checkListener = await (await import('./startup/check-listener.js')).startCheckListener(services, { logger: app.log })
      app.log.info({ url: config.check.url }, 'check my device listening')
    } catch (error) {
      app.log.error({ err: error, listen: config.check.listen }, 'cannot start the check listener')
    }
  }
  app.log.info(
    { url: services.config.publicUrl, database: runtime.database.kind, ca: services.ca.issuing.notAfter.toISOString(), readyMs: Math.round(performance.now() - started), ...(inCluster ? { worker: cluster.worker?.id } : {}) },
    `kagi ready on ${services.config.publicUrl}`,
  )
  clusterChannel?.ready()
  // In a cluster the first process speaks for all of them.
  if (process.stdout.isTTY && (!inCluster || cluster.worker?.id === 1)) {
    process.stdout.write(startupBanner({
      url: services.config.publicUrl,
      database: databaseFact(runtime),
      ca: { created: services.ca.created === true, name: services.config.caName, rootDer: services.ca.root.der, issuingDer: services.ca.issuing.der },
      signIn: signInMode(services.config),
    }))
  }
}

function databaseFact(runtime: Runtime): BannerFacts['database'] {
  if (runtime.database.kind === 'postgres') return { kind: 'postgres', url: runtime.config.databaseUrl ?? '' }
  // Where openDatabase (db/connect.ts) keeps it.
  return { kind: 'pglite', path: join(runtime.config.dataDir, 'db') }
}

/**
 * NODE_ENV=production without SAML is refused before a CA is created or a
 * port opened; with the passphrase also missing (openRuntime refuses that),
 * both are reported at once, in the words of every configuration error.
 */
async function refuseWithoutSignIn(config: Readonly<Config>, opening: Promise<Runtime>, signInMode: (config: Readonly<Config>) => unknown): Promise<void> {
  try {
    signInMode(config)
  } catch (error) {
    const openError = await opening.then((runtime) => runtime.database.close().then(() => undefined), (e: unknown) => e)
    if (error instanceof ConfigError && openError instanceof ConfigError) {
      throw new ConfigError(`invalid configuration:\n  ${openError.message}\n  ${error.message}`)
    }
    throw error
  }
}
