import { readFileSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Kysely } from 'kysely'
import { buildCrlFromRevoked, parseCrl, serialToHex, type CertificateInfo, type CrlEntry, type Signer } from '../../ca/index.js'
import type { Database } from '../db/database.js'
import {
  currentCrlNumber,
  loadCurrentCrl,
  nextCrlNumber,
  raiseCrlNumber,
  revocationSummary,
  revokeCertificate,
  revokedAmongForCrl,
  revokedForCrl,
  saveCurrentCrl,
} from '../db/revocation-repository.js'
import { CrlEntryList } from './crl-entries.js'

/** A signed CRL and its times, as served. */
export interface PublishedCrl {
  der: Buffer
  crlNumber: number
  thisUpdate: Date
  nextUpdate: Date
  entries: number
}

function publishedFromRow(row: NonNullable<Awaited<ReturnType<typeof loadCurrentCrl>>>): PublishedCrl {
  return { der: Buffer.from(row.der), crlNumber: Number(row.crl_number), thisUpdate: new Date(row.this_update), nextUpdate: new Date(row.next_update), entries: row.entries }
}

/** One CA whose CRL kagi publishes. */
export interface CrlAuthority {
  certificate: CertificateInfo
  /** The signer, created only when a CRL must be signed (the root key is decrypted on demand, on the thread pool). */
  signer: () => Signer | undefined | Promise<Signer | undefined>
  /** Entries from kagi's records (none for the root: kagi does not revoke issuing CAs yet). */
  entries: (expiredCutoff: Date) => Promise<CrlEntry[]>
  /** The entries among these serials (the rows of new revocations), selected as {@link entries} selects. */
  entriesAmong: (serials: readonly string[], expiredCutoff: Date) => Promise<CrlEntry[]>
  /** Latest revocation time and count, to notice a CRL that missed a revocation (a crash between commit and signing). */
  summary: () => Promise<{ count: number; latest?: Date }>
}

/** Minimal logger (pino-compatible). */
export interface Log {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

/** How long expired certificates stay on the CRL after notAfter. */
export const EXPIRED_GRACE_MS = 7 * 86_400_000
/**
 * On the embedded database, how often a newer stored CRL is looked for (no
 * other process writes one; a forwarded CLI command runs in this one). With
 * PostgreSQL every request looks (see {@link CrlPublisher.get}).
 */
const DB_REFRESH_MS = 5_000
/**
 * A revocation is signed onto the CRL in the background once revocations
 * pause for QUIET_MS, and at most MAX_WAIT_MS after the first one of a
 * burst; GET /pki/crl (get) and regenerate sign at once. Signing 5 MB
 * (100,000 entries) keeps the event loop for tens of milliseconds, which a
 * burst of revocations would otherwise wait behind one by one.
 */
const QUIET_MS = 50
const MAX_WAIT_MS = 2_000
/** On the embedded database, how long a signed CRL may wait to be stored (later ones replace it). */
export const EMBEDDED_STORE_DELAY_MS = 1_000

/** Options of a {@link CrlPublisher}. */
export interface CrlPublisherOptions {
  validityMs: number
  exportDir?: string
  log: Log
  now?: () => Date
  /**
   * The embedded database (PGlite): no other process opens it (the data
   * directory is locked), so a CRL is served as soon as it is signed and
   * stored within {@link EMBEDDED_STORE_DELAY_MS}, the latest of a burst
   * only: storing 5 MB (100,000 entries) runs inside this process and would
   * stall the revocations behind it. With PostgreSQL, replicas serve the
   * stored CRL, so each one is stored before it is served.
   */
  embedded?: boolean
}

/**
 * Publishes one CA's CRL (RFC 5280 §5): signs it on demand after each
 * revocation (coalescing bursts into one signature), re-signs it at half its
 * validity even when nothing changed, keeps it in the database (so replicas
 * serve the same CRL) and exports it to the data directory, where the next
 * start compares it with the database: a restore that lost revocations is
 * noticed, reported and repaired rather than silently un-revoking devices.
 *
 * The entries are kept encoded between signatures ({@link CrlEntryList}): a
 * revocation reads its own row and appends one entry, so a CRL is a
 * concatenation plus one signature, and no revocation waits behind a scan
 * of every revoked certificate. The database stays the source of truth:
 * the list is read again in full at start, at every re-signing interval
 * (dropping certificates past the expiry grace), after a lost LISTEN
 * connection ({@link rebuild}) and after any failure.
 */
export class CrlPublisher {
  private current?: PublishedCrl
  private checkedAt = 0
  private chain: Promise<void> = Promise.resolve()
  private scheduled = false
  /** Revocations present in the export but absent from the database (kept on every CRL). */
  private carried: CrlEntry[] = []
  private readonly list = new CrlEntryList()
  /** Serials announced since the last signature: their rows are read and appended by the next one. */
  private pending = new Set<string>()
  /** The list must be read again in full before the next signature (never read, or a step failed). */
  private stale = true
  /** When the list was last read in full (this.now()). */
  private listReadAt = 0
  /** Embedded database: the CRL waiting to be stored, and the store under way. */
  private unstored?: PublishedCrl
  private storeTimer?: NodeJS.Timeout
  private storing?: Promise<void>
  /** The background signature of announced revocations, and when the first of them was announced. */
  private soonTimer?: NodeJS.Timeout
  private firstPendingAt?: number
  readonly caSerial: string

  constructor(
    private readonly db: Kysely<Database>,
    private readonly authority: CrlAuthority,
    private readonly options: CrlPublisherOptions,
  ) {
    this.caSerial = serialToHex(authority.certificate.serial)
  }

  private now(): Date {
    return this.options.now?.() ?? new Date()
  }

  private exportPath(): string | undefined {
    return this.options.exportDir ? join(this.options.exportDir, `${this.caSerial}.crl`) : undefined
  }

  /** Loads the current CRL, checks the export against the database, and signs a new CRL when due. */
  async init(): Promise<void> {
    await this.reconcileExport()
    const row = await loadCurrentCrl(this.db, this.caSerial)
    if (row) this.current = publishedFromRow(row)
    this.checkedAt = Date.now()
    await this.readList()
    if (!this.current || this.due() || this.carried.length > 0 || (await this.missesRevocations())) await this.regenerate()
  }

  private async missesRevocations(): Promise<boolean> {
    const { count, latest } = await this.authority.summary()
    const current = this.current!
    // A revocation newer than the CRL was committed but never signed (a crash in between); fewer
    // revocations in the database than on the CRL means rows went missing (the restore guard re-signs).
    // A CRL with fewer entries than the database is normal: expired entries leave it after the grace.
    return (latest !== undefined && latest > current.thisUpdate) || count < current.entries
  }

  /** True when the CRL is past half of its validity (or missing), or a signature failed. */
  due(): boolean {
    if (!this.current || this.stale) return true
    const half = this.current.thisUpdate.getTime() + this.options.validityMs / 2
    return this.now().getTime() >= half
  }

  /**
   * Announces committed revocations (this process's, or another's heard
   * through LISTEN): their rows are appended to the list by the next
   * signature, made in the background once revocations pause (see
   * QUIET_MS), or at once by {@link get} or {@link regenerate}, so a CRL
   * served after the revocation's API call returned lists it.
   */
  revoked(serials: readonly string[]): void {
    if (serials.length === 0) return
    for (const serial of serials) this.pending.add(serial)
    const now = Date.now()
    this.firstPendingAt ??= now
    clearTimeout(this.soonTimer)
    this.soonTimer = setTimeout(() => void this.regenerate(), Math.max(0, Math.min(QUIET_MS, this.firstPendingAt + MAX_WAIT_MS - now)))
    this.soonTimer.unref()
  }

  /**
   * Asks for a new CRL now; bursts share one signature. `serials` are
   * revocations committed since the last call, as for {@link revoked}. The
   * promise resolves once a CRL that includes them and every revocation
   * announced before the call is published.
   */
  regenerate(serials: readonly string[] = []): Promise<void> {
    for (const serial of serials) this.pending.add(serial)
    clearTimeout(this.soonTimer)
    this.soonTimer = undefined
    this.firstPendingAt = undefined
    if (!this.scheduled) {
      this.scheduled = true
      this.chain = this.chain
        .then(async () => {
          this.scheduled = false
          await this.sign()
        })
        .catch((error) => this.options.log.error({ err: error, ca: this.caSerial }, 'CRL generation failed'))
    }
    return this.chain
  }

  /** Reads the list again from the database, then signs: after revocations that may not have been announced (a lost LISTEN connection). */
  rebuild(): Promise<void> {
    this.stale = true
    return this.regenerate()
  }

  /**
   * The CRL to serve: waits for a pending regeneration, then picks up a newer
   * CRL another process stored. With PostgreSQL, replicas sign CRLs numbered
   * from one database sequence and every request serves the higher of this
   * process's and the stored one, so a client whose requests alternate
   * between replicas never sees the cRLNumber go down (RFC 5280 §5.2.3) and
   * another replica's revocation is listed as soon as its CRL is stored.
   * With the database unreachable, the CRL held is served (it stays valid
   * until its nextUpdate).
   */
  async get(): Promise<PublishedCrl | undefined> {
    // A revocation announced but not yet signed is signed now: no CRL is served without it.
    if (this.pending.size > 0) await this.regenerate()
    await this.chain
    if (!this.options.embedded || Date.now() - this.checkedAt > DB_REFRESH_MS) {
      this.checkedAt = Date.now()
      try {
        // The number first (one column): the 5 MB of a long CRL are read only when another process stored a newer one.
        const number = await currentCrlNumber(this.db, this.caSerial)
        if (number !== undefined && (!this.current || number > this.current.crlNumber)) {
          const row = await loadCurrentCrl(this.db, this.caSerial)
          if (row && (!this.current || Number(row.crl_number) > this.current.crlNumber)) this.current = publishedFromRow(row)
        }
      } catch (error) {
        if (!this.current) throw error
        this.options.log.warn({ err: error, ca: this.caSerial }, 'cannot look for a newer CRL in the database; serving the one held')
      }
    }
    return this.current
  }

  /** Waits for pending signatures and stores the last CRL now (the embedded database delays it); call before closing the database. */
  async flush(): Promise<void> {
    if (this.pending.size > 0) await this.regenerate()
    await this.chain
    await this.storeNow()
  }

  /** The serials on the next CRL, in order (tests compare it with a list read from scratch). */
  listedSerials(): string[] {
    return this.list.serials()
  }

  /** Reads every entry of the CA from the database (and the carried ones) into the list. */
  private async readList(): Promise<void> {
    const cutoff = new Date(this.now().getTime() - EXPIRED_GRACE_MS)
    const readAt = this.now().getTime()
    const fromDb = await this.authority.entries(cutoff)
    // The database's entries first: for a serial in both, its row wins over the export's copy.
    await this.list.replace(this.carried.length > 0 ? [...fromDb, ...this.carried] : fromDb)
    this.listReadAt = readAt
    this.stale = false
  }

  private async sign(): Promise<void> {
    const signer = await this.authority.signer()
    if (!signer) return
    const thisUpdate = this.now()
    const nextUpdate = new Date(thisUpdate.getTime() + this.options.validityMs)
    const serials = [...this.pending]
    this.pending.clear()
    try {
      // A full read at each re-signing interval drops certificates past the expiry grace (RFC 5280
      // §5 lets a CRL omit expired ones) and repairs any drift between the list and the database.
      if (this.stale || thisUpdate.getTime() - this.listReadAt >= this.options.validityMs / 2) await this.readList()
      else if (serials.length > 0) this.list.add(await this.authority.entriesAmong(serials, new Date(thisUpdate.getTime() - EXPIRED_GRACE_MS)))
      const crlNumber = await nextCrlNumber(this.db)
      const der = buildCrlFromRevoked({ issuer: this.authority.certificate, signer, crlNumber, thisUpdate, nextUpdate }, this.list.revoked())
      await this.publish({ der, crlNumber, thisUpdate, nextUpdate, entries: this.list.size })
    } catch (error) {
      // The announced serials may be missing from the list: the next signature reads it all again.
      this.stale = true
      throw error
    }
  }

  /** Serves, stores and exports a new CRL; with PostgreSQL stored first, so no replica serves a lower number after this one. */
  private async publish(crl: PublishedCrl): Promise<void> {
    if (this.options.embedded) {
      this.serve(crl)
      this.storeSoon(crl)
    } else {
      await this.store(crl)
      this.serve(crl)
    }
    await this.writeExport(crl.der)
  }

  private serve(crl: PublishedCrl): void {
    if (!this.current || crl.crlNumber > this.current.crlNumber) this.current = crl
  }

  private store(crl: PublishedCrl): Promise<void> {
    const { der, crlNumber, thisUpdate, nextUpdate, entries } = crl
    return saveCurrentCrl(this.db, { caSerial: this.caSerial, crlNumber, thisUpdate, nextUpdate, entries, der }, { derAsText: this.options.embedded })
  }

  private storeSoon(crl: PublishedCrl): void {
    this.unstored = crl
    if (this.storeTimer) return
    this.storeTimer = setTimeout(() => void this.storeNow(), EMBEDDED_STORE_DELAY_MS)
    this.storeTimer.unref()
  }

  /** Stores the CRL waiting to be stored, if any, one store at a time. */
  private async storeNow(): Promise<void> {
    clearTimeout(this.storeTimer)
    this.storeTimer = undefined
    // Bounded: each turn either finds nothing to store or stores the latest CRL, and signatures come from a bounded chain.
    while (this.storing) await this.storing
    const crl = this.unstored
    if (!crl) return
    this.unstored = undefined
    this.storing = this.store(crl)
      .catch((error) => this.options.log.error({ err: error, ca: this.caSerial }, 'storing the CRL failed; it is served from memory and stored with the next one'))
      .finally(() => {
        this.storing = undefined
      })
    await this.storing
  }

  private async writeExport(der: Buffer): Promise<void> {
    const path = this.exportPath()
    if (!path) return
    try {
      await mkdir(this.options.exportDir!, { recursive: true, mode: 0o700 })
      // One temporary file per process: the processes of a KAGI_WORKERS cluster share the data directory.
      const partial = `${path}.${process.pid}.tmp`
      await writeFile(partial, der)
      await rename(partial, path)
    } catch (error) {
      this.options.log.warn({ err: error, path }, 'could not export the CRL to the data directory')
    }
  }

  /**
   * Compares the exported CRL with the database. A certificate revoked in the
   * export but active in the database (a restored backup) is revoked again
   * with its original time and reason; one the database no longer has at all
   * stays on every CRL. The CRL number sequence is moved past the export's.
   */
  private async reconcileExport(): Promise<void> {
    const path = this.exportPath()
    if (!path) return
    let exported
    try {
      exported = parseCrl(readFileSync(path))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.options.log.warn({ err: error, path }, 'exported CRL unreadable; not compared with the database')
      return
    }
    if (exported.crlNumber) await raiseCrlNumber(this.db, exported.crlNumber)
    const inDb = new Set((await this.authority.entries(new Date(0))).map((e) => e.serial))
    const lost = exported.entries.filter((e) => !inDb.has(e.serial))
    if (lost.length === 0) return
    const missing: CrlEntry[] = []
    for (const entry of lost) {
      const result = await revokeCertificate(this.db, entry.serial, entry.reason, 'restore-guard', entry.revokedAt)
      if (!result) missing.push(entry)
    }
    this.options.log.error(
      { restored: lost.length - missing.length, unknownToDatabase: missing.map((e) => e.serial).slice(0, 20), path },
      'the database lacked revocations that the exported CRL lists (restored backup?); they were revoked again and stay on the CRL',
    )
    this.carried = missing
  }
}

/** The CRL authority for the issuing CA: entries from the certificate table. */
export function issuingCrlAuthority(db: Kysely<Database>, certificate: CertificateInfo, signer: Signer): CrlAuthority {
  const issuerSerial = serialToHex(certificate.serial)
  return {
    certificate,
    signer: () => signer,
    entries: (cutoff) => revokedForCrl(db, issuerSerial, cutoff),
    entriesAmong: (serials, cutoff) => revokedAmongForCrl(db, issuerSerial, serials, cutoff),
    summary: () => revocationSummary(db, issuerSerial),
  }
}
