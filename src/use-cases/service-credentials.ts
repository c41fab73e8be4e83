import type { KeyObject } from 'node:crypto'
import type { Kysely } from 'kysely'
import { decryptPrivateKeyAsync, encryptPrivateKey, generateKey, serialToHex, spkiOf, type Authority, type KeyType } from '../../ca/index.js'
import { ocspSignerProfile, profileSignerProfile, type LeafProfile } from '../../profiles/index.js'
import type { Database, ServiceCredentialPurpose } from '../db/database.js'
import { findServiceCredential, saveServiceCredential } from '../db/service-credential-repository.js'
import type { Log } from '../revocation/crl-publisher.js'

/** What distinguishes one kind of service credential from another. */
export interface ServiceCredentialKind {
  purpose: ServiceCredentialPurpose
  profile: LeafProfile
  /** A new certificate is issued when the current one has less than this left. */
  renewBeforeMs: number
  keyType: KeyType
  /** Audit action recorded when a certificate is issued. */
  auditAction: string
  /** Log line written when a certificate is issued. */
  issuedMessage: string
}

const DAY_MS = 86_400_000

/**
 * The delegated OCSP responder (RFC 6960 §4.2.2.2). Its certificate lives
 * 7 days (a client cannot check it for revocation, hence short-lived), so it
 * is renewed with 2 days to spare.
 */
export const ocspResponderCredential: ServiceCredentialKind = {
  purpose: 'ocsp-responder',
  profile: ocspSignerProfile,
  renewBeforeMs: 2 * DAY_MS,
  keyType: 'ecdsa-p256',
  auditAction: 'ocsp-responder.issued',
  issuedMessage: 'OCSP responder certificate issued',
}

/** Signs configuration profiles (CMS SignedData, RFC 5652); lives a year, renewed 30 days before. */
export const profileSignerCredential: ServiceCredentialKind = {
  purpose: 'profile-signer',
  profile: profileSignerProfile,
  renewBeforeMs: 30 * DAY_MS,
  keyType: 'ecdsa-p256',
  auditAction: 'profile-signer.issued',
  issuedMessage: 'profile signing certificate issued',
}

/**
 * A certificate with its key, ready to sign. The shape of a ProfileSigner
 * (enrollment/bundle-types.ts), so the profile signer is handed to the bundle
 * builders as it is.
 */
export interface Credential {
  certificate: Buffer
  privateKey: KeyObject
  /** DER: the chain from the credential's issuer up to the root. */
  chain: readonly Buffer[]
  notAfter: Date
}

/** What a {@link ServiceCredential} needs. */
export interface ServiceCredentialDeps {
  /** Signs the certificate; its issuing CA is the one the credential belongs to. */
  authority: Pick<Authority, 'sign' | 'issuing'>
  /** Encrypts the stored key (the CA passphrase). */
  passphrase: string
  chain?: readonly Buffer[]
  log: Log
  now?: () => Date
}

/**
 * A certificate kagi issues to itself from its issuing CA (the OCSP responder,
 * the profile signer): loaded from the database, where every replica finds
 * it, or issued on first use; renewed before it expires. Only credentials of
 * the current issuing CA are used, so rotating the CA rotates them too.
 * Concurrent callers in one process share one load or issuance.
 */
export class ServiceCredential {
  private current?: Credential
  private pending?: Promise<Credential>

  constructor(
    private readonly db: Kysely<Database>,
    private readonly kind: ServiceCredentialKind,
    private readonly deps: ServiceCredentialDeps,
  ) {}

  /** The credential to use now (the same object until it is renewed). */
  async get(): Promise<Credential> {
    const now = this.deps.now?.() ?? new Date()
    if (this.current && this.current.notAfter.getTime() - now.getTime() > this.kind.renewBeforeMs) return this.current
    this.pending ??= this.loadOrIssue(now).finally(() => (this.pending = undefined))
    this.current = await this.pending
    return this.current
  }

  private async loadOrIssue(now: Date): Promise<Credential> {
    const { purpose, profile, renewBeforeMs, keyType } = this.kind
    const chain = this.deps.chain ?? []
    const caSerial = serialToHex(this.deps.authority.issuing.certificate.serial)
    const row = await findServiceCredential(this.db, purpose, caSerial, new Date(now.getTime() + renewBeforeMs))
    if (row) {
      const privateKey = await decryptPrivateKeyAsync(row.encrypted_key, this.deps.passphrase)
      return { certificate: Buffer.from(row.der), privateKey, chain, notAfter: new Date(row.not_after) }
    }
    const keys = await generateKey(keyType)
    const issued = this.deps.authority.sign(profile, {
      facts: {},
      key: { publicKeyInfo: spkiOf(keys.publicKey), keyAlgorithm: keys.privateKey.asymmetricKeyType === 'rsa' ? 'rsa' : 'ec', keyDescription: keyType },
    })
    const encryptedKey = await encryptPrivateKey(keys.privateKey, this.deps.passphrase)
    await saveServiceCredential(this.db, { purpose, serial: issued.serial, caSerial, der: issued.der, encryptedKey, notAfter: issued.notAfter }, this.kind.auditAction)
    this.deps.log.info({ serial: issued.serial, notAfter: issued.notAfter.toISOString() }, this.kind.issuedMessage)
    return { certificate: issued.der, privateKey: keys.privateKey, chain, notAfter: issued.notAfter }
  }
}
