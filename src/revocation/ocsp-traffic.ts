const HOUR_MS = 3_600_000
const HOURS = 24

/**
 * OCSP requests per hour in this process over the last day, for the admin
 * dashboard: a ring of 24 counters, no storage and no lock on the hot path
 * (one increment per request). Each replica counts its own; fleet-wide
 * figures belong to the metrics endpoint.
 */
export class OcspTraffic {
  private readonly counts = new Array<number>(HOURS).fill(0)
  private readonly hourOf = new Array<number>(HOURS).fill(-1)

  /** Counts one request at `now`. */
  record(now = Date.now()): void {
    const hour = Math.floor(now / HOUR_MS)
    const slot = hour % HOURS
    if (this.hourOf[slot] !== hour) {
      this.hourOf[slot] = hour
      this.counts[slot] = 0
    }
    this.counts[slot]!++
  }

  /** The last 24 hours, oldest first: the hour's start and its count. */
  lastDay(now = Date.now()): { hour: Date; count: number }[] {
    const current = Math.floor(now / HOUR_MS)
    return Array.from({ length: HOURS }, (_, i) => {
      const hour = current - (HOURS - 1) + i
      const slot = hour % HOURS
      return { hour: new Date(hour * HOUR_MS), count: this.hourOf[slot] === hour ? this.counts[slot]! : 0 }
    })
  }
}
