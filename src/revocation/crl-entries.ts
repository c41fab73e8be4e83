import { encodeCrlEntry, type CrlEntry } from '../../ca/index.js'

/** One entry of the list: its serial, revocation time (ms) and revokedCertificates element. */
interface Listed {
  serial: string
  at: number
  der: Buffer
}

/** The list's order: revocation time, then serial (code-unit order, so no database collation is involved). */
function before(a: Listed, b: Listed): number {
  return a.at - b.at || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0)
}

/**
 * The encoded revokedCertificates of one CA's CRL (RFC 5280 §5.1.2.6), kept
 * between signatures so that a CRL is a concatenation plus one signature
 * rather than a scan of the database. Each serial is listed once (the first
 * time and reason are final, so an entry never changes once encoded), in
 * revocation-time order. RFC 5280 imposes no order; a fixed one makes an
 * incrementally grown list equal to one rebuilt from the database.
 *
 * The entries are also kept concatenated in one buffer with room to grow,
 * so that appending copies one entry and a CRL copies one block, rather
 * than joining 100,000 small buffers for every signature.
 */
export class CrlEntryList {
  private list: Listed[] = []
  private bySerial = new Map<string, Listed>()
  /** list's DER concatenated in its first `joinedLength` bytes; undefined after an insertion out of order. */
  private joined?: Buffer
  private joinedLength = 0

  get size(): number {
    return this.list.length
  }

  has(serial: string): boolean {
    return this.bySerial.has(serial)
  }

  /**
   * Replaces the list with `entries` (a rebuild from the database, which
   * also drops entries that left the CRL). Already encoded entries are
   * reused; encoding yields now and then so a long rebuild does not stall
   * requests. The first occurrence of a serial wins.
   */
  async replace(entries: readonly CrlEntry[]): Promise<void> {
    const list: Listed[] = []
    const bySerial = new Map<string, Listed>()
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!
      if (bySerial.has(e.serial)) continue
      const old = this.bySerial.get(e.serial)
      const listed = old && old.at === e.revokedAt.getTime() ? old : { serial: e.serial, at: e.revokedAt.getTime(), der: encodeCrlEntry(e) }
      list.push(listed)
      bySerial.set(e.serial, listed)
      if (i % 5000 === 4999) await new Promise((resolve) => setImmediate(resolve))
    }
    // The database returns them by revoked_at already, so this sort is a near-linear pass (it breaks ties by serial).
    list.sort(before)
    this.list = list
    this.bySerial = bySerial
    this.joined = undefined
  }

  /** Adds entries not listed yet, each at its place in the order (new revocations land at the end). Returns how many were added. */
  add(entries: readonly CrlEntry[]): number {
    let added = 0
    for (const e of entries) {
      if (this.bySerial.has(e.serial)) continue
      const listed = { serial: e.serial, at: e.revokedAt.getTime(), der: encodeCrlEntry(e) }
      const last = this.list[this.list.length - 1]
      if (!last || before(last, listed) < 0) {
        this.list.push(listed)
        this.appendJoined(listed.der)
      } else {
        // Earlier than the last entry (a restored revocation's original time, another replica's clock): the joined copy is redone.
        this.list.splice(this.insertionPoint(listed), 0, listed)
        this.joined = undefined
      }
      this.bySerial.set(e.serial, listed)
      added++
    }
    return added
  }

  /**
   * The entries' DER concatenated in order (the content of revokedCertificates, for buildCrlFromRevoked).
   * A view of the list's buffer: valid until the next change, so it is copied (into the CRL) before then.
   */
  revoked(): Buffer {
    if (!this.joined) {
      const length = this.list.reduce((n, e) => n + e.der.length, 0)
      this.joined = Buffer.allocUnsafe(length + (length >> 3) + 4096)
      this.joinedLength = 0
      for (const e of this.list) this.joinedLength += e.der.copy(this.joined, this.joinedLength)
    }
    return this.joined.subarray(0, this.joinedLength)
  }

  /** The listed serials, in order (tests compare lists with them). */
  serials(): string[] {
    return this.list.map((e) => e.serial)
  }

  private appendJoined(der: Buffer): void {
    if (!this.joined) return
    if (this.joinedLength + der.length > this.joined.length) {
      // Grows by half: appends stay amortised constant time.
      const bigger = Buffer.allocUnsafe(Math.ceil((this.joinedLength + der.length) * 1.5) + 4096)
      this.joined.copy(bigger, 0, 0, this.joinedLength)
      this.joined = bigger
    }
    this.joinedLength += der.copy(this.joined, this.joinedLength)
  }

  private insertionPoint(e: Listed): number {
    let lo = 0
    let hi = this.list.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (before(this.list[mid]!, e) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
