import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { addOcspChecks, type OcspCheckTally } from '../db/ocsp-check-repository.js'
import type { Log } from './crl-publisher.js'

/** How often each process writes its tallies: "last seen by the VPN" lags by at most this much (README). */
export const OCSP_CHECK_FLUSH_MS = 5_000

/**
 * Serials tallied between two writes. Only certificates kagi issued are
 * tallied (the responder found their row), so the map is bounded by the
 * certificates in use; this cap only guards memory if writes keep failing.
 */
const MAX_PENDING = 200_000

/**
 * "Last seen by the VPN": counts, per certificate, the OCSP requests that
 * asked about it and the time of the last one. The responder's hot path
 * only touches a Map; a timer writes the tallies in one statement per
 * interval (db/ocsp-check-repository.ts), which adds them to what the
 * other replicas wrote. A failed write keeps the tallies for the next one;
 * stop() writes what is left, so a clean shutdown loses nothing (a crash
 * loses at most one interval's counts, never a certificate's status).
 */
export class OcspCheckRecorder {
  private pending = new Map<string, { checks: number; last: Date }>()
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<void> | undefined
  /** KAGI_OCSP_LAST_SEEN: off, nothing is counted (the bench compares both). */
  enabled: boolean

  constructor(
    private readonly db: Kysely<Database>,
    private readonly deps: { log: Log; now?: () => Date; flushMs?: number; enabled?: boolean },
  ) {
    this.enabled = deps.enabled ?? true
  }

  /** One OCSP request asked about these serials (kagi's own certificates). */
  record(serials: readonly string[]): void {
    if (!this.enabled || serials.length === 0) return
    const at = this.deps.now?.() ?? new Date()
    for (const serial of serials) {
      const tally = this.pending.get(serial)
      if (tally) {
        tally.checks++
        if (at > tally.last) tally.last = at
      } else if (this.pending.size < MAX_PENDING) this.pending.set(serial, { checks: 1, last: at })
    }
  }

  /** Writes the tallies gathered so far; concurrent calls share one write. */
  flush(): Promise<void> {
    this.writing ??= this.write().finally(() => (this.writing = undefined))
    return this.writing
  }

  start(): void {
    if (this.timer) return
    this.timer = setInterval(() => void this.flush(), this.deps.flushMs ?? OCSP_CHECK_FLUSH_MS)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    await this.writing
    await this.flush()
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return
    const batch = this.pending
    this.pending = new Map()
    const tallies: OcspCheckTally[] = [...batch].map(([serial, { checks, last }]) => ({ serial, checks, lastCheckedAt: last }))
    try {
      await addOcspChecks(this.db, tallies)
    } catch (error) {
      // Put them back, merged with what came meanwhile, for the next write.
      for (const { serial, checks, lastCheckedAt } of tallies) {
        const tally = this.pending.get(serial)
        if (tally) {
          tally.checks += checks
          if (lastCheckedAt > tally.last) tally.last = lastCheckedAt
        } else if (this.pending.size < MAX_PENDING) this.pending.set(serial, { checks, last: lastCheckedAt })
      }
      this.deps.log.warn({ err: error, serials: tallies.length }, 'cannot write OCSP check counts; retrying at the next interval')
    }
  }
}
