import type { KeyObject } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import { generateKey } from '../../ca/index.js'

/** A key pair as {@link generateKey} returns it. */
export interface KeyPair {
  privateKey: KeyObject
  publicKey: KeyObject
}

/** Options for {@link RsaKeyPool}. */
export interface RsaKeyPoolOptions {
  /** Keys to hold ready (KAGI_KEY_POOL_SIZE); 0 = no pool, every take() generates. */
  size: number
  /** Generations at once while filling. Default: one per core, leaving at least one libuv thread free. */
  concurrency?: number
  /** Filling begins this long after start(), so start-up and one-shot CLI commands never generate. Default 10 s. */
  startDelayMs?: number
  /** Filling pauses until no key has been taken for this long. Default 2 s. */
  quietMs?: number
  /** Generates one RSA-2048 key pair (tests inject a counting one). Default: Node's native generation. */
  generate?: () => Promise<KeyPair>
  /** Told about a failed background generation (filling retries later). */
  onError?: (error: unknown) => void
}

/** What the pool reports to /metrics. */
export interface KeyPoolStats {
  /** Keys ready now. */
  available: number
  /** The size the pool refills to. */
  target: number
  /** Keys handed out since start-up: from the pool, or generated on demand (pool empty or off). */
  taken: { pool: number; generated: number }
}

/** How long filling waits when the event loop was busy, before looking again. */
const BUSY_RECHECK_MS = 500
/** How long filling waits after a failed generation. */
const ERROR_RETRY_MS = 5_000
/** libuv's default thread pool size. */
const LIBUV_DEFAULT_THREADS = 4
/** Above this share of time busy since the last look, the process is not idle. */
const BUSY_UTILIZATION = 0.5

/**
 * A bounded pool of RSA-2048 key pairs generated ahead, in idle time, so that
 * a burst of server-side-key enrollments (the first morning) takes a key in
 * no time instead of waiting ~100 ms of CPU each behind the others.
 *
 * The keys live only in this process's memory and are never written
 * anywhere; each is handed out once (removed before it is returned) and
 * {@link stop} drops them all. Filling runs only while the process is idle:
 * not during the {@link RsaKeyPoolOptions.startDelayMs} after start(), not
 * within {@link RsaKeyPoolOptions.quietMs} of a take (during a burst a pooled
 * key is instant, and refilling would only compete for the cores with the
 * burst's signing, PKCS#12 and any on-demand generation once the pool is
 * empty), and not while the event loop is more than half busy. An empty pool
 * is thus no slower than none (take() generates on demand, as without it); a
 * request that arrives while filling shares the cores with the generations in
 * flight, which cannot be cancelled, for at most one generation's time.
 */
export class RsaKeyPool {
  /** The size the pool refills to. */
  readonly size: number
  private readonly concurrency: number
  private readonly startDelayMs: number
  private readonly quietMs: number
  private readonly generate: () => Promise<KeyPair>
  private readonly onError: (error: unknown) => void
  private readonly keys: KeyPair[] = []
  private readonly inFlight = new Set<Promise<void>>()
  private readonly taken = { pool: 0, generated: 0 }
  private running = false
  private timer: NodeJS.Timeout | undefined
  private lastTakeAt = -Infinity
  private lastLook: EventLoopUtilization | undefined

  constructor(options: RsaKeyPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 0) throw new RangeError('the key pool size must be an integer ≥ 0')
    this.size = options.size
    this.concurrency = Math.max(1, options.concurrency ?? defaultConcurrency())
    this.startDelayMs = options.startDelayMs ?? 10_000
    this.quietMs = options.quietMs ?? 2_000
    this.generate = options.generate ?? (() => generateKey('rsa-2048'))
    this.onError = options.onError ?? (() => {})
  }

  /** Begins filling (after the start delay); does nothing for size 0. */
  start(): void {
    if (this.running || this.size === 0) return
    this.running = true
    this.lastLook = performance.eventLoopUtilization()
    this.schedule(this.startDelayMs)
  }

  /** A key pair nobody else gets: a pooled one, or one generated now when the pool is empty. */
  async take(): Promise<KeyPair> {
    this.lastTakeAt = performance.now()
    const pooled = this.keys.pop()
    if (pooled) {
      this.taken.pool++
      this.pump()
      return pooled
    }
    this.taken.generated++
    return this.generate()
  }

  /** Stops filling, drops every pooled key and waits for the generations in flight (their keys are dropped too). */
  async stop(): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
    this.timer = undefined
    this.keys.length = 0
    await Promise.allSettled([...this.inFlight])
  }

  /** For /metrics. */
  stats(): KeyPoolStats {
    return { available: this.keys.length, target: this.size, taken: { ...this.taken } }
  }

  /** Starts generations up to the size and the concurrency, or looks again later when the process is not idle. */
  private pump(): void {
    if (!this.running || this.timer) return
    const wait = this.waitMs()
    if (wait > 0) return this.schedule(wait)
    while (this.running && this.keys.length + this.inFlight.size < this.size && this.inFlight.size < this.concurrency) this.fillOne()
  }

  /** 0 when the process is idle, else how long to wait before looking again. */
  private waitMs(): number {
    const quietLeft = this.lastTakeAt + this.quietMs - performance.now()
    if (quietLeft > 0) return quietLeft
    const now = performance.eventLoopUtilization()
    const since = performance.eventLoopUtilization(now, this.lastLook)
    this.lastLook = now
    return since.utilization > BUSY_UTILIZATION ? BUSY_RECHECK_MS : 0
  }

  private fillOne(): void {
    const run: Promise<void> = this.generate().then(
      (pair) => {
        // Checked again here: stop() may have run, or takes refilled nothing, while this key was generated.
        if (this.running && this.keys.length < this.size) this.keys.push(pair)
        this.inFlight.delete(run)
        this.pump()
      },
      (error: unknown) => {
        this.inFlight.delete(run)
        this.onError(error)
        if (this.running && !this.timer) this.schedule(ERROR_RETRY_MS)
      },
    )
    this.inFlight.add(run)
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.pump()
    }, ms)
    // A pool that is still filling must not keep a finished process alive.
    this.timer.unref()
  }
}

/**
 * One generation per core, leaving at least one of libuv's threads (4 unless
 * UV_THREADPOOL_SIZE says otherwise; kagi does not change it) for the PBKDF2,
 * scrypt, file system and DNS work of the requests that arrive meanwhile.
 */
function defaultConcurrency(): number {
  return Math.max(1, Math.min(LIBUV_DEFAULT_THREADS - 1, availableParallelism()))
}
