import { createPublicKey, sign, verify, X509Certificate, type KeyObject } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Kysely } from 'kysely'
import { certificateInfo, decryptPrivateKeyAsync, serialToHex, type Authority } from '../../ca/index.js'
import { auditSignerPurpose } from '../../profiles/index.js'
import type { Config } from '../config.js'
import { walkChain } from '../db/audit-chain.js'
import type { Database } from '../db/database.js'
import type { Log } from '../revocation/crl-publisher.js'
import type { LoadedCa } from '../startup/ca-loader.js'
import { auditSignerCredential, ServiceCredential } from './service-credentials.js'

/**
 * Signed heads of the audit chain. Someone who can write the database but
 * does not hold the CA passphrase can recompute every hash of a rewritten
 * history, but cannot sign its head: the audit-signer key is encrypted with
 * the passphrase like the CA keys. Heads are kept in `audit_head` and
 * exported to `KAGI_DATA_DIR/audit/<seq>.json`, out of that attacker's reach.
 */

/** How often a running service signs the head when it moved (and once at start). */
export const AUDIT_HEAD_INTERVAL_MS = 10 * 60_000

/** A chain head signed by an audit-signer certificate, from the database or an exported file. */
export interface SignedHead {
  seq: string
  hash: Buffer
  signature: Buffer
  signerSerial: string
  signedAt: Date
  /** DER of the signer's certificate; undefined when the database no longer has it. */
  certificate?: Buffer
  /** Where it was read: `database` or the exported file's path. */
  source: string
}

const field = (v: string): string => `${Buffer.byteLength(v, 'utf8')}:${v}`

/**
 * What an audit-signer signs (ECDSA P-256 with SHA-256, DER signature): the
 * UTF-8 text "kagi-audit-head-v1" LF f(seq) f(hash as lowercase hex)
 * f(signedAt as ISO 8601 UTC with milliseconds), f as in the event encoding
 * (src/db/audit-chain.ts).
 */
export function headMessage(seq: string, hash: Buffer, signedAt: Date): Buffer {
  return Buffer.from(`kagi-audit-head-v1\n${field(seq)}${field(hash.toString('hex'))}${field(signedAt.toISOString())}`, 'utf8')
}

/** Options for {@link AuditHeadSigner}. */
export interface AuditHeadSignerOptions {
  /** Where heads are exported; undefined: not exported. */
  exportDir?: string
  log: Log
  now?: () => Date
  /** Default {@link AUDIT_HEAD_INTERVAL_MS}. */
  intervalMs?: number
}

/**
 * Signs the current chain head (seq, hash) with the audit-signer credential,
 * stores it in `audit_head` and exports it. Replicas signing the same head
 * at once keep the first signature stored, and all export that one.
 */
export class AuditHeadSigner {
  private timer?: NodeJS.Timeout
  private pending?: Promise<SignedHead | undefined>

  constructor(
    private readonly db: Kysely<Database>,
    /** Undefined without the CA passphrase: nothing can be signed. */
    private readonly credential: Pick<ServiceCredential, 'get'> | undefined,
    private readonly options: AuditHeadSignerOptions,
  ) {}

  /**
   * Signs the head now unless it is already signed; returns the signed head,
   * or undefined for an empty log. Concurrent calls share one signature.
   */
  signNow(): Promise<SignedHead | undefined> {
    this.pending ??= this.sign().finally(() => (this.pending = undefined))
    return this.pending
  }

  /**
   * Signs now (resolving when done, so the credential's issuance event is
   * written before start-up ends) and then every interval when the head
   * moved, on a timer that does not keep the process alive. A failure is
   * logged, never thrown: the service runs on and tries again.
   */
  async start(): Promise<void> {
    if (!this.credential) {
      this.options.log.warn({}, 'no CA passphrase: audit log heads are not signed')
      return
    }
    const run = (): Promise<void> => this.signNow().then(() => undefined, (error) => this.options.log.error({ err: error }, 'signing the audit log head failed'))
    if (this.timer) clearInterval(this.timer)
    this.timer = setInterval(() => void run(), this.options.intervalMs ?? AUDIT_HEAD_INTERVAL_MS)
    this.timer.unref()
    await run()
  }

  /** Stops the timer and waits for a signature under way. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    await this.pending?.catch(() => undefined)
  }

  private async sign(): Promise<SignedHead | undefined> {
    if (!this.credential) throw new Error('no CA passphrase: the audit log head cannot be signed')
    // First: issuing the credential writes an audit event, which this head then covers.
    const credential = await this.credential.get()
    const head = await this.db.selectFrom('audit_chain_head').select(['seq', 'hash']).executeTakeFirst()
    if (!head) throw new Error('the audit chain head (audit_chain_head) is missing')
    const seq = String(head.seq)
    if (seq === '0') return undefined
    let row = await findHead(this.db, seq)
    if (!row) {
      const signedAt = this.options.now?.() ?? new Date()
      const hash = Buffer.from(head.hash)
      const signature = sign('sha256', headMessage(seq, hash, signedAt), credential.privateKey)
      const signerSerial = serialOf(credential.certificate)
      await this.db.insertInto('audit_head').values({ seq, hash, signature, signer_serial: signerSerial, signed_at: signedAt }).onConflict((c) => c.column('seq').doNothing()).execute()
      row = (await findHead(this.db, seq))!
      this.options.log.info({ seq, hash: hash.toString('hex') }, 'audit log head signed')
    }
    if (this.options.exportDir) exportHead(this.options.exportDir, row)
    return row
  }
}

/** The serial as service_credential stores it. */
const serialOf = (certificate: Buffer): string => serialToHex(certificateInfo(certificate).serial)

async function findHead(db: Kysely<Database>, seq: string): Promise<SignedHead | undefined> {
  const row = await db
    .selectFrom('audit_head')
    .leftJoin('service_credential', (j) => j.onRef('service_credential.serial', '=', 'audit_head.signer_serial').on('service_credential.purpose', '=', 'audit-signer'))
    .select(['audit_head.seq', 'audit_head.hash', 'audit_head.signature', 'audit_head.signer_serial', 'audit_head.signed_at', 'service_credential.der'])
    .where('audit_head.seq', '=', seq)
    .executeTakeFirst()
  return row && headOfRow(row)
}

function headOfRow(row: { seq: string | number; hash: Uint8Array; signature: Uint8Array; signer_serial: string; signed_at: Date | string; der: Uint8Array | null }): SignedHead {
  return {
    seq: String(row.seq),
    hash: Buffer.from(row.hash),
    signature: Buffer.from(row.signature),
    signerSerial: row.signer_serial,
    signedAt: new Date(row.signed_at),
    certificate: row.der ? Buffer.from(row.der) : undefined,
    source: 'database',
  }
}

/** Writes `<dir>/<seq>.json` (mode 0600, through a temporary file and a rename, so a reader never sees half of it). */
export function exportHead(dir: string, head: SignedHead): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const path = join(dir, `${head.seq}.json`)
  const body = {
    seq: head.seq,
    hash: head.hash.toString('hex'),
    signedAt: head.signedAt.toISOString(),
    signerSerial: head.signerSerial,
    signature: head.signature.toString('base64'),
    certificate: head.certificate?.toString('base64'),
  }
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 })
  renameSync(tmp, path)
  return path
}

/** What {@link createAuditHeadSigner} needs: a subset of KagiServices. */
export interface AuditHeadDeps {
  db: Kysely<Database>
  authority: Authority
  config: Pick<Readonly<Config>, 'dataDir'>
  log: Log
  now?: () => Date
}

/**
 * The signer for a running service or a CLI command: its credential is
 * issued by the issuing CA on first use (and renewed), its heads exported to
 * `<dataDir>/audit`. Without a passphrase it signs nothing.
 */
export function createAuditHeadSigner(deps: AuditHeadDeps, passphrase: string | undefined, options: Pick<AuditHeadSignerOptions, 'intervalMs'> = {}): AuditHeadSigner {
  const credential = passphrase ? new ServiceCredential(deps.db, auditSignerCredential, { authority: deps.authority, passphrase, log: deps.log, now: deps.now }) : undefined
  return new AuditHeadSigner(deps.db, credential, { exportDir: join(deps.config.dataDir, 'audit'), log: deps.log, now: deps.now, ...options })
}

/** Whether a certificate was issued by one of kagi's issuing CAs (see {@link issuedByKagi}). */
export type IssuerCheck = (cert: X509Certificate) => Promise<boolean>

const spki = (key: KeyObject): Buffer => key.export({ type: 'spki', format: 'der' })

/**
 * Believes a certificate issued by the current issuing CA, whose key was
 * decrypted with the passphrase when the CA was loaded and must belong to its
 * certificate, or by a retired issuing CA whose stored key decrypts with the
 * passphrase and belongs to its certificate: a CA certificate someone wrote
 * into the database without the passphrase is never believed. A retired CA's
 * key is decrypted only when a certificate names it (PBKDF2 takes a moment),
 * once.
 */
export function issuedByKagi(db: Kysely<Database>, ca: Pick<LoadedCa, 'issuing' | 'issuingKey'>, passphrase: string): IssuerCheck {
  const current = new X509Certificate(ca.issuing.der)
  const currentGenuine = spki(createPublicKey(ca.issuingKey)).equals(spki(current.publicKey))
  const genuine = new Map<string, Promise<boolean>>()
  const verdicts = new Map<string, Promise<boolean>>()
  let retired: Promise<{ der: Uint8Array; encrypted_key: string }[]> | undefined
  const signedBy = (cert: X509Certificate, issuer: X509Certificate): boolean => cert.checkIssued(issuer) && cert.verify(issuer.publicKey)
  const check = async (cert: X509Certificate): Promise<boolean> => {
    if (signedBy(cert, current)) return currentGenuine
    retired ??= db.selectFrom('ca_certificate').select(['der', 'encrypted_key']).where('role', '=', 'issuing').where('active', '=', false).execute()
    for (const row of await retired) {
      const issuer = new X509Certificate(Buffer.from(row.der))
      if (!signedBy(cert, issuer)) continue
      const key = issuer.fingerprint256
      if (!genuine.has(key)) {
        genuine.set(key, decryptPrivateKeyAsync(row.encrypted_key, passphrase).then((k) => spki(createPublicKey(k)).equals(spki(issuer.publicKey)), () => false))
      }
      if (await genuine.get(key)) return true
    }
    return false
  }
  // Many heads share one certificate: each is checked once.
  return (cert) => {
    const key = cert.fingerprint256
    if (!verdicts.has(key)) verdicts.set(key, check(cert))
    return verdicts.get(key)!
  }
}

/** Why a signed head is not believed, or undefined when its signature is good. */
export async function headSignatureProblem(head: SignedHead, issuedByKagi: IssuerCheck): Promise<string | undefined> {
  if (!head.certificate) return `its signer certificate ${head.signerSerial} is missing`
  let cert: X509Certificate
  try {
    cert = new X509Certificate(head.certificate)
  } catch {
    return 'its signer certificate cannot be read'
  }
  if (serialOf(head.certificate) !== head.signerSerial) return `its certificate is not ${head.signerSerial}`
  if (!(await issuedByKagi(cert))) return `certificate ${head.signerSerial} was not issued by kagi's issuing CA`
  if (!(cert.keyUsage ?? []).includes(auditSignerPurpose)) return `certificate ${head.signerSerial} is not an audit-signer certificate`
  if (head.signedAt < new Date(cert.validFrom) || head.signedAt > new Date(cert.validTo)) return `certificate ${head.signerSerial} was not valid at ${head.signedAt.toISOString()}`
  if (!verify('sha256', headMessage(head.seq, head.hash, head.signedAt), cert.publicKey, head.signature)) return 'its signature is not valid'
  return undefined
}

/** Every signed head: the database's (with their certificates) and the files exported to `exportDir`. */
export async function loadSignedHeads(db: Kysely<Database>, exportDir?: string): Promise<{ heads: SignedHead[]; unreadable: string[] }> {
  const rows = await db
    .selectFrom('audit_head')
    .leftJoin('service_credential', (j) => j.onRef('service_credential.serial', '=', 'audit_head.signer_serial').on('service_credential.purpose', '=', 'audit-signer'))
    .select(['audit_head.seq', 'audit_head.hash', 'audit_head.signature', 'audit_head.signer_serial', 'audit_head.signed_at', 'service_credential.der'])
    .orderBy('audit_head.seq')
    .execute()
  const heads = rows.map(headOfRow)
  const unreadable: string[] = []
  let files: string[] = []
  try {
    files = exportDir ? readdirSync(exportDir).filter((f) => /^\d+\.json$/.test(f)) : []
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  for (const f of files) {
    const path = join(exportDir!, f)
    try {
      const j = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string | undefined>
      if (typeof j.seq !== 'string' || `${j.seq}.json` !== f || !j.hash || !j.signature || !j.signerSerial || !j.signedAt) throw new Error('incomplete')
      const head: SignedHead = {
        seq: j.seq,
        hash: Buffer.from(j.hash, 'hex'),
        signature: Buffer.from(j.signature, 'base64'),
        signerSerial: j.signerSerial,
        signedAt: new Date(j.signedAt),
        certificate: j.certificate ? Buffer.from(j.certificate, 'base64') : undefined,
        source: path,
      }
      const same = heads.find((h) => h.seq === head.seq && h.hash.equals(head.hash) && h.signature.equals(head.signature))
      if (!same) heads.push(head)
    } catch {
      unreadable.push(path)
    }
  }
  heads.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : BigInt(a.seq) > BigInt(b.seq) ? 1 : 0))
  return { heads, unreadable }
}

/** What {@link verifyAudit} found. */
export interface AuditVerification {
  ok: boolean
  /** Events read (all of them when the chain is intact). */
  events: number
  lastSeq: string
  /** The newest signed head that checked out. */
  lastSigned?: { seq: string; signedAt: Date }
  /** Events after the newest signed head (not protected yet). */
  unsigned: number
  /** Every problem found, the first (the one to act on) first. */
  problems: string[]
}

/**
 * `kagi audit verify`: recomputes the chain (naming the first event altered,
 * removed or inserted), checks every signed head (signature by an
 * audit-signer certificate that kagi's issuing CA issued, valid when
 * signed) and that the chain has the signed hash at the signed seq: a history
 * rewritten with consistent hashes fails there. A log with events but no
 * signed head fails too, since nothing then proves it was not rewritten.
 */
export async function verifyAudit(
  db: Kysely<Database>,
  ca: Pick<LoadedCa, 'issuing' | 'issuingKey'>,
  passphrase: string,
  options: { exportDir?: string; onProgress?: (events: number) => void; batchSize?: number } = {},
): Promise<AuditVerification> {
  const trusted = issuedByKagi(db, ca, passphrase)
  const { heads, unreadable } = await loadSignedHeads(db, options.exportDir)
  const walk = await walkChain(db, { hashesAt: new Set(heads.map((h) => h.seq)), onProgress: options.onProgress, batchSize: options.batchSize })
  const problems: string[] = []
  if (walk.problem) problems.push(walk.problem.message)
  for (const path of unreadable) problems.push(`exported head ${path} cannot be read`)
  const lastSeq = walk.last?.seq ?? '0'
  let lastSigned: AuditVerification['lastSigned']
  let previousGood = '0'
  for (const head of heads) {
    const where = head.source === 'database' ? '' : ` (${head.source})`
    const bad = await headSignatureProblem(head, trusted)
    if (bad) {
      problems.push(`signed head seq ${head.seq}${where} is not believed: ${bad}`)
      continue
    }
    if (walk.problem) continue
    if (BigInt(head.seq) > BigInt(lastSeq)) {
      problems.push(`events seq ${BigInt(lastSeq) + 1n}..${head.seq} were removed: a head signed at ${head.signedAt.toISOString()}${where} covers seq ${head.seq}, the chain ends at seq ${lastSeq}`)
      continue
    }
    if (!walk.hashesAt.get(head.seq)?.equals(head.hash)) {
      problems.push(`the chain was rewritten: at seq ${head.seq} it differs from the head signed at ${head.signedAt.toISOString()}${where}; the change is in events seq ${BigInt(previousGood) + 1n}..${head.seq}`)
      continue
    }
    previousGood = head.seq
    lastSigned = { seq: head.seq, signedAt: head.signedAt }
  }
  if (!walk.problem && walk.events > 0 && heads.length === 0) {
    problems.push(`no signed head: nothing proves these ${walk.events} events were not rewritten (kagi signs the head at start and every 10 minutes; \`kagi audit sign\` signs it now)`)
  }
  return {
    ok: problems.length === 0,
    events: walk.events,
    lastSeq,
    lastSigned,
    unsigned: Number(BigInt(lastSeq) - BigInt(lastSigned?.seq ?? '0')),
    problems,
  }
}
