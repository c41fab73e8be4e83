import type { KeyObject } from 'node:crypto'
import type { Kysely } from 'kysely'
import {
  CaError,
  certificateInfo,
  createHierarchy,
  decryptPrivateKeyAsync,
  encryptPrivateKey,
  serialToHex,
  validateCaImport,
  x509lib,
  type CaImportInput,
  type CertificateInfo,
} from '../../ca/index.js'
import type { Config } from '../config.js'
import { findActiveCas, findRetiredIssuingCas, lockCaCreation, replaceActiveCa } from '../db/ca-repository.js'
import type { Database } from '../db/database.js'

/** kagi's CA as loaded from the database: certificates, and the issuing key decrypted in memory. */
export interface LoadedCa {
  root: CertificateInfo
  issuing: CertificateInfo
  issuingKey: KeyObject
  /** The root key, still encrypted (decrypted only when the root must sign). Empty for an imported CA without its root key. */
  rootEncryptedKey: string
  keyType: string
  /** Issuing CAs kagi used before (replaced by `ca init --force` or `ca import`). */
  retiredIssuing: CertificateInfo[]
  /** The public URL stored with it; null for a CA from before migration 0018 until a process adopts one (startup/public-url.ts). */
  publicUrl: string | null
  /** True when {@link ensureCa} created it just now (the first start), for the start-up banner. */
  created?: boolean
}

/** A decrypted issuing key and the stored text it came from (see {@link loadCa}). */
export interface KnownIssuingKey {
  encryptedKey: string
  key: KeyObject
}

/** Human-readable subject of a DER certificate, e.g. "O=kagi, CN=kagi Root CA". */
export async function subjectText(der: Buffer): Promise<string> {
  return new (await x509lib()).X509Certificate(new Uint8Array(der)).subject
}

/**
 * Loads the active CA, or returns undefined when none has been created yet.
 * `known` is an issuing key this process already has with the encrypted form
 * it was stored as (just created, or decrypted while migrations ran): used
 * when the active issuing CA is stored exactly so, instead of a second PBKDF2 run.
 */
export async function loadCa(db: Kysely<Database>, passphrase: string, known?: KnownIssuingKey): Promise<LoadedCa | undefined> {
  const [rows, retired] = await Promise.all([findActiveCas(db), findRetiredIssuingCas(db)])
  const root = rows.find((r) => r.role === 'root')
  const issuing = rows.find((r) => r.role === 'issuing')
  if (!root || !issuing) return undefined
  return {
    root: certificateInfo(Buffer.from(root.der)),
    issuing: certificateInfo(Buffer.from(issuing.der)),
    issuingKey: known?.encryptedKey === issuing.encrypted_key ? known.key : await decryptPrivateKeyAsync(issuing.encrypted_key, passphrase),
    rootEncryptedKey: root.encrypted_key,
    keyType: issuing.key_type,
    retiredIssuing: retired.map((r) => certificateInfo(Buffer.from(r.der))),
    publicUrl: issuing.public_url,
  }
}

/** Options for creating the hierarchy. */
export interface InitOptions {
  /** Replace an existing CA (certificates it issued will no longer chain to the active CA). */
  force?: boolean
  /** Who creates it, for the audit log (default `system`: the first start). */
  actor?: string
  /** Made ahead by {@link prepareHierarchy} while the database opened (the first start); used when it matches the configuration. */
  prepared?: Promise<PreparedHierarchy | undefined>
}

/** A new hierarchy with its keys already encrypted, ready to store. */
export interface PreparedHierarchy {
  for: { name: string; keyType: string; publicUrl: string }
  issuingKey: KeyObject
  rows: { role: 'root' | 'issuing'; serial: string; subject: string; der: Buffer; encryptedKey: string; notAfter: Date }[]
}

/**
 * Generates the hierarchy and encrypts both keys. The two 600,000-iteration
 * PBKDF2 runs are independent and run in parallel on the libuv thread pool,
 * so a first start waits for one, not two.
 */
export async function prepareHierarchy(config: Pick<Config, 'caName' | 'caKeyType' | 'publicUrl'>, passphrase: string): Promise<PreparedHierarchy> {
  const { root, issuing } = await createHierarchy({ name: config.caName, keyType: config.caKeyType, publicUrl: config.publicUrl })
  const rows = await Promise.all(([['root', root], ['issuing', issuing]] as const).map(async ([role, pair]) => {
    const [subject, encryptedKey] = await Promise.all([subjectText(pair.certificate.der), encryptPrivateKey(pair.privateKey, passphrase)])
    return { role, serial: serialToHex(pair.certificate.serial), subject, der: pair.certificate.der, encryptedKey, notAfter: pair.certificate.notAfter }
  }))
  return { for: { name: config.caName, keyType: config.caKeyType, publicUrl: config.publicUrl }, issuingKey: issuing.privateKey, rows }
}

/**
 * Creates the two-tier hierarchy unless one exists (or `force`). Runs under an
 * advisory lock so replicas starting together create exactly one CA.
 */
export async function initCa(db: Kysely<Database>, config: Config, passphrase: string, options: InitOptions = {}): Promise<{ created: boolean; ca: LoadedCa }> {
  const made = await db.transaction().execute(async (trx) => {
    await lockCaCreation(trx)
    const existing = await findActiveCas(trx)
    if (existing.length > 0 && !options.force) return undefined
    const ahead = await options.prepared?.catch(() => undefined)
    const matches = ahead && ahead.for.name === config.caName && ahead.for.keyType === config.caKeyType && ahead.for.publicUrl === config.publicUrl
    const prepared = matches ? ahead : await prepareHierarchy(config, passphrase)
    for (const row of prepared.rows) {
      await replaceActiveCa(trx, { ...row, keyType: config.caKeyType, publicUrl: config.publicUrl }, options.actor ?? 'system')
    }
    return prepared
  })
  const created = made !== undefined
  const ca = await loadCa(db, passphrase, made && { encryptedKey: made.rows.find((r) => r.role === 'issuing')!.encryptedKey, key: made.issuingKey })
  if (!ca) throw new CaError('ca_not_initialized', 'the CA could not be loaded after creation')
  return { created, ca }
}

/** Loads the CA, creating it on first start; `ahead` is what openRuntime (runtime.ts) made while the database opened. */
export async function ensureCa(
  db: Kysely<Database>,
  config: Config,
  passphrase: string,
  ahead: { prepared?: Promise<PreparedHierarchy | undefined>; known?: KnownIssuingKey } = {},
): Promise<LoadedCa> {
  const { prepared, known } = ahead
  const loaded = await loadCa(db, passphrase, known)
  if (loaded) return loaded
  // `created` is false when a replica starting at the same time created it first.
  const { created, ca } = await initCa(db, config, passphrase, { prepared })
  return { ...ca, created }
}

/**
 * Adopts an existing issuing CA (`kagi ca import`) once validateCaImport
 * (ca/ca-import.ts) accepts it. The key is re-encrypted with kagi's
 * passphrase; the previous CA stays in the history, inactive. `publicUrl` is
 * what kagi will put into the certificates it issues.
 */
export async function importIssuingCa(db: Kysely<Database>, passphrase: string, input: CaImportInput, publicUrl: string): Promise<LoadedCa> {
  const { root, issuing, key, keyType, rootIsIssuing } = await validateCaImport(input)
  await db.transaction().execute(async (trx) => {
    await lockCaCreation(trx)
    await replaceActiveCa(trx, {
      role: 'root',
      serial: serialToHex(root.serial),
      subject: await subjectText(root.der),
      der: root.der,
      // An imported root's key stays with its owner, unless the issuing CA is the root itself.
      encryptedKey: rootIsIssuing ? await encryptPrivateKey(key, passphrase) : '',
      keyType: rootIsIssuing ? keyType : 'unknown',
      notAfter: root.notAfter,
      publicUrl,
    }, 'cli')
    await replaceActiveCa(trx, {
      role: 'issuing',
      serial: serialToHex(issuing.serial),
      subject: await subjectText(issuing.der),
      der: issuing.der,
      encryptedKey: await encryptPrivateKey(key, passphrase),
      keyType,
      notAfter: issuing.notAfter,
      publicUrl,
    }, 'cli')
  })
  const ca = await loadCa(db, passphrase)
  if (!ca) throw new CaError('ca_not_initialized', 'the imported CA could not be loaded')
  return ca
}
