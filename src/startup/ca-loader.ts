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
}

/** Human-readable subject of a DER certificate, e.g. "O=kagi, CN=kagi Root CA". */
export async function subjectText(der: Buffer): Promise<string> {
  return new (await x509lib()).X509Certificate(new Uint8Array(der)).subject
}

/** Loads the active CA, or returns undefined when none has been created yet. */
export async function loadCa(db: Kysely<Database>, passphrase: string): Promise<LoadedCa | undefined> {
  const rows = await findActiveCas(db)
  const retired = await findRetiredIssuingCas(db)
  const root = rows.find((r) => r.role === 'root')
  const issuing = rows.find((r) => r.role === 'issuing')
  if (!root || !issuing) return undefined
  return {
    root: certificateInfo(Buffer.from(root.der)),
    issuing: certificateInfo(Buffer.from(issuing.der)),
    issuingKey: await decryptPrivateKeyAsync(issuing.encrypted_key, passphrase),
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
}

/**
 * Creates the two-tier hierarchy unless one exists (or `force`). Runs under an
 * advisory lock so replicas starting together create exactly one CA.
 */
export async function initCa(db: Kysely<Database>, config: Config, passphrase: string, options: InitOptions = {}): Promise<{ created: boolean; ca: LoadedCa }> {
  const created = await db.transaction().execute(async (trx) => {
    await lockCaCreation(trx)
    const existing = await findActiveCas(trx)
    if (existing.length > 0 && !options.force) return false
    const { root, issuing } = await createHierarchy({ name: config.caName, keyType: config.caKeyType, publicUrl: config.publicUrl })
    for (const [role, pair] of [['root', root], ['issuing', issuing]] as const) {
      await replaceActiveCa(trx, {
        role,
        serial: serialToHex(pair.certificate.serial),
        subject: await subjectText(pair.certificate.der),
        der: pair.certificate.der,
        encryptedKey: await encryptPrivateKey(pair.privateKey, passphrase),
        keyType: config.caKeyType,
        notAfter: pair.certificate.notAfter,
        publicUrl: config.publicUrl,
      }, options.actor ?? 'system')
    }
    return true
  })
  const ca = await loadCa(db, passphrase)
  if (!ca) throw new CaError('ca_not_initialized', 'the CA could not be loaded after creation')
  return { created, ca }
}

/** Loads the CA, creating it on first start. */
export async function ensureCa(db: Kysely<Database>, config: Config, passphrase: string): Promise<LoadedCa> {
  return (await loadCa(db, passphrase)) ?? (await initCa(db, config, passphrase)).ca
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
