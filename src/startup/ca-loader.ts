import 'reflect-metadata'
import { createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto'
import type { Kysely } from 'kysely'
import {
  CaError,
  certificateInfo,
  checkKeyPolicy,
  createHierarchy,
  decryptPrivateKeyAsync,
  encryptPrivateKey,
  pemToDer,
  serialToHex,
  type CaKeyType,
  type CertificateInfo,
} from '../../ca/index.js'
import type { Config } from '../config.js'
import { findActiveCas, findRetiredIssuingCas, lockCaCreation, replaceActiveCa } from '../db/ca-repository.js'
import type { Database } from '../db/database.js'

/**
 * @peculiar/x509, loaded on first use: it is needed only to create or import
 * a CA and to print names, and loading it costs a quarter of a second that
 * `kagi serve` would otherwise spend before it is ready.
 */
async function x509lib(): Promise<typeof import('@peculiar/x509')> {
  const x509 = await import('@peculiar/x509')
  x509.cryptoProvider.set(webcrypto as Crypto)
  return x509
}

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
  }
}

/** Options for creating the hierarchy. */
export interface InitOptions {
  /** Replace an existing CA (certificates it issued will no longer chain to the active CA). */
  force?: boolean
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
      })
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

function splitPem(text: string): Buffer[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
  return blocks.map((block) => pemToDer(block, 'CERTIFICATE'))
}

function describeKey(key: KeyObject): CaKeyType {
  const d = checkKeyPolicy(key)
  if (d === 'ecdsa-p256' || d === 'ecdsa-p384' || d === 'rsa-3072' || d === 'rsa-4096') return d
  throw new CaError('ca_import_invalid', `the CA key is ${d}; kagi signs with ecdsa-p256, ecdsa-p384, rsa-3072 or rsa-4096`)
}

/**
 * Adopts an existing issuing CA (`kagi ca import`). `certPem` holds the
 * issuing CA certificate first, then its chain up to a self-signed root
 * (a self-signed issuing CA is its own root). The key is re-encrypted with
 * kagi's passphrase; the previous CA stays in the history, inactive.
 */
export async function importIssuingCa(
  db: Kysely<Database>,
  passphrase: string,
  input: { certPem: string; keyPem: string; keyPassphrase?: string; rootPem?: string },
): Promise<LoadedCa> {
  const certs = [...splitPem(input.certPem), ...(input.rootPem ? splitPem(input.rootPem) : [])]
  if (certs.length === 0) throw new CaError('ca_import_invalid', 'no PEM certificate found in --cert')
  const issuing = certificateInfo(certs[0]!)
  if (!issuing.isCa) throw new CaError('ca_import_invalid', 'the certificate is not a CA (basicConstraints CA:TRUE is missing); PAN-OS would not trust it')
  if (issuing.notAfter <= new Date()) throw new CaError('ca_import_invalid', `the CA certificate expired on ${issuing.notAfter.toISOString()}`)
  let key: KeyObject
  try {
    key = createPrivateKey({ key: input.keyPem, format: 'pem', passphrase: input.keyPassphrase })
  } catch {
    throw new CaError('ca_import_invalid', 'the private key could not be read (PEM expected; pass --key-passphrase-file for an encrypted key)')
  }
  const keyType = describeKey(key)
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' }) as Buffer
  if (!spki.equals(issuing.publicKeyInfo)) throw new CaError('ca_import_invalid', 'the private key does not belong to the CA certificate')
  const x509 = await x509lib()
  const parsed = certs.map((der) => new x509.X509Certificate(new Uint8Array(der)))
  const rootIndex = parsed.findIndex((c) => c.subject === c.issuer)
  if (rootIndex < 0) throw new CaError('ca_import_invalid', 'the chain has no self-signed root; append the root certificate to --cert or pass --root')
  // kagi keeps two tiers (root → issuing): the issuing CA must be the root itself or signed by it,
  // or the chain it serves (/pki/chain.pem, PKCS#12 bundles) would miss an intermediate.
  const issuingCert = parsed[0]!
  const rootCert = parsed[rootIndex]!
  if (issuingCert.issuer !== rootCert.subject) {
    throw new CaError('ca_import_invalid', `the issuing CA must be signed directly by the root; "${issuingCert.issuer}" is not the self-signed root in the chain (kagi keeps a two-tier hierarchy)`)
  }
  if (!(await issuingCert.verify({ publicKey: rootCert.publicKey, signatureOnly: true }))) {
    throw new CaError('ca_import_invalid', `the signature on "${issuingCert.subject}" does not verify with "${rootCert.subject}"`)
  }
  const root = certificateInfo(certs[rootIndex]!)
  await db.transaction().execute(async (trx) => {
    await lockCaCreation(trx)
    await replaceActiveCa(trx, {
      role: 'root',
      serial: serialToHex(root.serial),
      subject: await subjectText(root.der),
      der: root.der,
      encryptedKey: rootIndex === 0 ? await encryptPrivateKey(key, passphrase) : '',
      keyType: rootIndex === 0 ? keyType : 'unknown',
      notAfter: root.notAfter,
    })
    await replaceActiveCa(trx, {
      role: 'issuing',
      serial: serialToHex(issuing.serial),
      subject: await subjectText(issuing.der),
      der: issuing.der,
      encryptedKey: await encryptPrivateKey(key, passphrase),
      keyType,
      notAfter: issuing.notAfter,
    })
  })
  const ca = await loadCa(db, passphrase)
  if (!ca) throw new CaError('ca_not_initialized', 'the imported CA could not be loaded')
  return ca
}
