import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry } from 'prom-client'
import type { Config } from '../config.js'
import { createLogger } from '../log.js'
import { isKagiMessage, SIBLING_ACK_TIMEOUT_MS, type PrimaryMessage, type WorkerMessage } from './cluster-messages.js'
import { secureDataDir } from './data-dir.js'
import { resolvePassphrase } from './passphrase.js'

/** A process that died after it was ready is replaced after this, doubling to {@link RESPAWN_MAX_MS}. */
const RESPAWN_FIRST_MS = 1_000
const RESPAWN_MAX_MS = 30_000
/** A replacement that stays up this long resets the delay. */
const RESPAWN_RESET_MS = 60_000
/** Longer than a process's own shutdown grace (SHUTDOWN_GRACE_MS, 10 s in server.ts). */
const STOP_FORCE_MS = 15_000

/**
 * `kagi serve` with KAGI_WORKERS > 1 (PostgreSQL only): this process starts
 * that many `kagi serve` processes on the same port and supervises them. It
 * opens no database and serves nothing itself.
 *
 * - **Start.** The first process starts alone (a first start creates the
 *   CA and migrates; two would race for the CPU and the locks), the others
 *   once it listens: the port answers as soon as the first is ready.
 * - **One port.** The processes share the listening socket and each accepts
 *   its own connections (`SCHED_NONE`): with Node's default round-robin the
 *   primary accepts every connection and hands it over, a cost per
 *   connection that the OCSP storm on new connections (issue 15) cannot pay.
 * - **Replicas.** Each process is a full kagi on the shared database, as
 *   replicas on several machines are (advisory locks for migrations and the
 *   CA, LISTEN/NOTIFY for revocations, shared session key).
 * - **Revocations at once.** A process that commits a revocation sends its
 *   serials here; they are relayed to the others, which drop their cached
 *   OCSP answers and acknowledge, and the revocation is answered only then
 *   (at most {@link SIBLING_ACK_TIMEOUT_MS}): no process on this machine
 *   serves a cached "good" after the API said "revoked".
 * - **Metrics.** GET /metrics, in whichever process answers it, is every
 *   process's metrics aggregated here (prom-client's AggregatorRegistry).
 * - **Failures.** A process that exits before it was ready (a wrong
 *   passphrase, the database unreachable) stops them all, with its exit
 *   code: respawning could not fix it. One that dies later is replaced.
 * - **Shutdown.** SIGINT or SIGTERM is passed on; each process drains as a
 *   single `kagi serve` does, and this one exits when they have.
 */
export async function superviseWorkers(config: Readonly<Config>): Promise<void> {
  const log = createLogger({ level: config.logLevel, pretty: process.stdout.isTTY === true })
  // Before any process starts: two processes generating a passphrase at once would make two.
  for (const w of secureDataDir(config.dataDir)) log.warn({ path: w.path, mode: w.mode || undefined }, w.message)
  resolvePassphrase(config)
  cluster.schedulingPolicy = cluster.SCHED_NONE
  const started = performance.now()
  const ready = new Set<Worker>()
  const everReady = new WeakSet<Worker>()
  /** Answers awaited from the processes, by request id (see {@link gather}). */
  const awaited = new Map<number, (worker: Worker, reply: WorkerMessage) => void>()
  let nextId = 1
  let stopping = false
  let exitCode = 0
  let respawnDelay = RESPAWN_FIRST_MS
  let announcedReady = false
  let forkedAll = false

  const send = (worker: Worker, message: PrimaryMessage): void => {
    if (worker.isConnected()) worker.send(message)
  }

  /**
   * Sends `ask(id)` to each of `workers` and resolves with the replies that
   * came back (a reply names the request's id) once all have, or after
   * `timeoutMs` with those that had: a busy or dying process never holds the
   * asker up longer.
   */
  const gather = (workers: readonly Worker[], ask: (id: number) => PrimaryMessage, timeoutMs: number): Promise<WorkerMessage[]> =>
    new Promise((resolve) => {
      const id = nextId++
      const replies = new Map<Worker, WorkerMessage>()
      const finish = (): void => {
        clearTimeout(timer)
        awaited.delete(id)
        resolve([...replies.values()])
      }
      const timer = setTimeout(finish, timeoutMs)
      timer.unref()
      awaited.set(id, (worker, reply) => {
        replies.set(worker, reply)
        if (replies.size === workers.length) finish()
      })
      for (const w of workers) send(w, ask(id))
      if (workers.length === 0) finish()
    })

  /** The others drop their cached answers for `serials`; then the revoking process is answered. */
  const relayRevocation = async (from: Worker, id: number, serials: string[]): Promise<void> => {
    const others = [...ready].filter((w) => w !== from && w.isConnected())
    await gather(others, (relayId) => ({ kagi: 'sibling-revoked', id: relayId, serials }), SIBLING_ACK_TIMEOUT_MS)
    send(from, { kagi: 'revoked-ack', id })
  }

  /**
   * Every ready process's metrics, aggregated (counters summed, gauges as
   * their `aggregator` says). Only ready processes are asked: one still
   * starting has no metrics to give and would hold the scrape up. One that
   * does not answer within the timeout is left out rather than failing it.
   */
  const collectMetrics = async (): Promise<string> => {
    const replies = await gather([...ready].filter((w) => w.isConnected()), (id) => ({ kagi: 'collect-metrics', id }), SIBLING_ACK_TIMEOUT_MS / 2)
    const metrics = replies.flatMap((r) => (r.kagi === 'metrics-json' ? [r.metrics] : []))
    return AggregatorRegistry.aggregate(metrics as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics()
  }

  const onMessage = (worker: Worker, message: unknown): void => {
    if (!isKagiMessage<WorkerMessage>(message)) return
    switch (message.kagi) {
      case 'ready':
        ready.add(worker)
        everReady.add(worker)
        if (!forkedAll) {
          // The first is ready (it created the CA on a first start, migrated): the others start now.
          forkedAll = true
          for (let i = 1; i < config.workers; i++) fork()
        }
        if (!announcedReady && ready.size === config.workers) {
          announcedReady = true
          log.info({ workers: config.workers, pids: [...ready].map((w) => w.process.pid), readyMs: Math.round(performance.now() - started) }, `kagi ready in ${config.workers} processes`)
        }
        return
      case 'revoked':
        void relayRevocation(worker, message.id, message.serials)
        return
      case 'sibling-revoked-ack':
      case 'metrics-json':
        awaited.get(message.id)?.(worker, message)
        return
      case 'metrics':
        collectMetrics().then(
          (text) => send(worker, { kagi: 'metrics-text', id: message.id, text }),
          (error: Error) => send(worker, { kagi: 'metrics-text', id: message.id, error: error.message }),
        )
        return
    }
  }

  const fork = (): Worker => {
    const worker = cluster.fork()
    worker.on('message', (message) => onMessage(worker, message))
    const startedAt = performance.now()
    worker.once('exit', (code, signal) => {
      ready.delete(worker)
      if (stopping) {
        // One still starting has no handler yet, and the SIGTERM sent to it ends it as asked.
        exitCode = Math.max(exitCode, code ?? (signal === 'SIGTERM' ? 0 : 1))
        return
      }
      if (!everReady.has(worker)) {
        // It never served: the next one would fail the same way (its reason is in its own log lines above).
        log.error({ workerPid: worker.process.pid, code, signal }, 'a kagi serve process stopped while starting: stopping the others')
        exitCode = code || 1
        stop('startup failure')
        return
      }
      if (performance.now() - startedAt > RESPAWN_RESET_MS) respawnDelay = RESPAWN_FIRST_MS
      log.error({ workerPid: worker.process.pid, code, signal, restartInMs: respawnDelay }, 'a kagi serve process exited: starting another')
      setTimeout(() => {
        if (!stopping) fork()
      }, respawnDelay)
      respawnDelay = Math.min(respawnDelay * 2, RESPAWN_MAX_MS)
    })
    return worker
  }

  const stop = (why: string): void => {
    if (stopping) return
    stopping = true
    log.info({ signal: why }, 'shutting down every kagi serve process')
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
    // Each process gives up on its own after its grace period (server.ts); this is for one that cannot even do that.
    setTimeout(() => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL')
    }, STOP_FORCE_MS).unref()
  }

  await new Promise<void>((resolve) => {
    cluster.on('exit', () => {
      if (stopping && Object.keys(cluster.workers ?? {}).length === 0) resolve()
    })
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
    fork()
  })
  process.exitCode = exitCode
  log.info({ exitCode }, 'stopped')
}
