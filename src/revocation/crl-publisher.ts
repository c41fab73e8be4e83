import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Kysely } from 'kysely'
import { buildCrl, encodeCrlEntry, parseCrl, serialToHex, type CertificateInfo, type CrlEntry, type Signer } from '../../ca/index.js'
import type { Database } from '../db/database.js'
import { loadCurrentCrl, nextCrlNumber, raiseCrlNumber, revocationSummary, revokeCertificate, revokedForCrl, saveCurrentCrl } from '../db/revocation-repository.js'

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
  /** The signer, created only when a CRL must be signed (the root key is decrypted on demand). */
  signer: () => Signer | undefined
  /** Entries from kagi's records (none for the root: kagi does not revoke issuing CAs yet). */
  entries: (expiredCutoff: Date) => Promise<CrlEntry[]>
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
/** How often another replica's newer CRL is looked for in the database. */
const DB_REFRESH_MS = 5_000

/**
 * Publishes one CA's CRL (RFC 5280 §5): signs it on demand after each
 * revocation (coalescing bursts into one signature), re-signs it at half its
 * validity even when nothing changed, keeps it in the database (so replicas
 * serve the same CRL) and exports it to the data directory, where the next
 * start compares it with the database: a restore that lost revocations is
 * noticed, reported and repaired rather than silently un-revoking devices.
 */
export class CrlPublisher {
  private current?: PublishedCrl
  private checkedAt = 0
  private chain: Promise<void> = Promise.resolve()
  private scheduled = false
  /** Revocations present in the export but absent from the database (kept on every CRL). */
  private carried: CrlEntry[] = []
  /** DER of entries already on a CRL, by serial. */
  private encodedEntries = new Map<string, Buffer>()
  readonly caSerial: string

  constructor(
    private readonly db: Kysely<Database>,
    private readonly authority: CrlAuthority,
    private readonly options: { validityMs: number; exportDir?: string; log: Log; now?: () => Date },
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

  /** True when the CRL is past half of its validity (or missing). */
  due(): boolean {
    if (!this.current) return true
    const half = this.current.thisUpdate.getTime() + this.options.validityMs / 2
    return this.now().getTime() >= half
  }

  /**
   * Asks for a new CRL; bursts of revocations share one signature. The promise
   * resolves once a CRL that includes every revocation committed before the
   * call is published.
   */
  regenerate(): Promise<void> {
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

  /** The CRL to serve: waits for a pending regeneration, then picks up newer CRLs other replicas wrote. */
  async get(): Promise<PublishedCrl | undefined> {
    await this.chain
    if (Date.now() - this.checkedAt > DB_REFRESH_MS) {
      this.checkedAt = Date.now()
      const row = await loadCurrentCrl(this.db, this.caSerial)
      if (row && (!this.current || Number(row.crl_number) > this.current.crlNumber)) {
        this.current = publishedFromRow(row)
      }
    }
    return this.current
  }

  private async sign(): Promise<void> {
    const signer = this.authority.signer()
    if (!signer) return
    const thisUpdate = this.now()
    const nextUpdate = new Date(thisUpdate.getTime() + this.options.validityMs)
    const fromDb = await this.authority.entries(new Date(thisUpdate.getTime() - EXPIRED_GRACE_MS))
    const known = new Set(fromDb.map((e) => e.serial))
    const entries = [...fromDb, ...this.carried.filter((e) => !known.has(e.serial))]
    // Revocations are final, so each entry is encoded once and reused by every later CRL;
    // the loop yields now and then so that a long CRL does not stall requests.
    const encoded: Buffer[] = []
    const keep = new Map<string, Buffer>()
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!
      const der = this.encodedEntries.get(e.serial) ?? encodeCrlEntry(e)
      keep.set(e.serial, der)
      encoded.push(der)
      if (i % 5000 === 4999) await new Promise((resolve) => setImmediate(resolve))
    }
    this.encodedEntries = keep
    const crlNumber = await nextCrlNumber(this.db)
    const der = buildCrl({ issuer: this.authority.certificate, signer, crlNumber, thisUpdate, nextUpdate, entries: [], encoded })
    await saveCurrentCrl(this.db, { caSerial: this.caSerial, crlNumber, thisUpdate, nextUpdate, entries: entries.length, der })
    if (!this.current || crlNumber > this.current.crlNumber) this.current = { der, crlNumber, thisUpdate, nextUpdate, entries: entries.length }
    this.writeExport(der)
  }

  private writeExport(der: Buffer): void {
    const path = this.exportPath()
    if (!path) return
    try {
      mkdirSync(this.options.exportDir!, { recursive: true, mode: 0o700 })
      writeFileSync(`${path}.tmp`, der)
      renameSync(`${path}.tmp`, path)
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
    summary: () => revocationSummary(db, issuerSerial),
  }
}
