import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { currentCrlNumber, loadCurrentCrl } from '../db/revocation-repository.js'
import { CrlPublisher, type CrlAuthority, type Log, type PublishedCrl } from './crl-publisher.js'

/**
 * The CRL publisher of a replica sharing PostgreSQL with others. Every
 * replica signs CRLs (after the revocations it makes or hears of), numbered
 * from one database sequence, and the database keeps the highest-numbered
 * one. Each request serves the higher of this process's own CRL and the
 * stored one (a one-column query; the DER is read only when newer), so a
 * client whose requests alternate between replicas never sees the cRLNumber
 * go down (RFC 5280 §5.2.3: monotonically increasing), and another
 * replica's revocation is listed as soon as its CRL is stored. With the
 * database unreachable, the CRL already held is served (it stays valid until
 * its nextUpdate).
 */
export class SharedCrlPublisher extends CrlPublisher {
  private stored?: PublishedCrl
  private own?: PublishedCrl
  private readonly log: Log

  constructor(
    private readonly shared: Kysely<Database>,
    authority: CrlAuthority,
    options: { validityMs: number; exportDir?: string; log: Log; now?: () => Date },
  ) {
    super(shared, authority, options)
    this.log = options.log
  }

  override async get(): Promise<PublishedCrl | undefined> {
    let best: PublishedCrl | undefined
    try {
      this.own = await super.get()
      best = newer(this.own, this.stored)
      const number = await currentCrlNumber(this.shared, this.caSerial)
      if (number !== undefined && (!best || number > best.crlNumber)) {
        const row = await loadCurrentCrl(this.shared, this.caSerial)
        if (row) {
          this.stored = { der: Buffer.from(row.der), crlNumber: Number(row.crl_number), thisUpdate: new Date(row.this_update), nextUpdate: new Date(row.next_update), entries: row.entries }
          best = newer(best, this.stored)
        }
      }
    } catch (error) {
      best = newer(this.own, this.stored)
      this.log.warn({ err: error, ca: this.caSerial }, 'cannot look for a newer CRL in the database; serving the one held')
    }
    return best
  }
}

function newer(a: PublishedCrl | undefined, b: PublishedCrl | undefined): PublishedCrl | undefined {
  if (!a) return b
  if (!b) return a
  return b.crlNumber > a.crlNumber ? b : a
}
