import type { KeyObject } from 'node:crypto'
import type { Kysely } from 'kysely'
import {
  Authority,
  CaError,
  decryptPrivateKeyAsync,
  encryptPrivateKey,
  generateKey,
  serialToHex,
  spkiOf,
  type AuthorityOptions,
  type CertificateInfo,
  type IssuingCa,
  type KeyType,
  type Signer,
  type VerifiedFacts,
} from '../../ca/index.js'
import { X509Certificate } from 'node:crypto'
import { auditSignerProfile, ocspSignerProfile, profileSignerProfile, scepRaProfile, tlsServerProfile, type LeafProfile } from '../../profiles/index.js'
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
  /** What the certificate names (the check listener's host name); service credentials without it name only the CA. */
  facts?: VerifiedFacts
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

/**
 * The OCSP responder for the certificates the ROOT issued (the issuing CA),
 * delegated by the root (RFC 6960 §4.2.2.2): same profile, lifetime and
 * renewal as {@link ocspResponderCredential}, stored under the root's serial.
 * Issued on first need, so a deployment whose issuing CA already names
 * kagi's OCSP URL gets it without re-issuing anything.
 */
export const rootOcspResponderCredential: ServiceCredentialKind = {
  ...ocspResponderCredential,
  purpose: 'root-ocsp-responder',
  auditAction: 'root-ocsp-responder.issued',
  issuedMessage: 'root OCSP responder certificate issued',
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
 * Signs the head of the hash-chained audit log (src/use-cases/audit-heads.ts);
 * lives 90 days, renewed 30 days before. `kagi audit verify` checks a head
 * against the certificate that was valid when it was signed, so old heads
 * stay verifiable after renewal.
 */
export const auditSignerCredential: ServiceCredentialKind = {
  purpose: 'audit-signer',
  profile: auditSignerProfile,
  renewBeforeMs: 30 * DAY_MS,
  keyType: 'ecdsa-p256',
  auditAction: 'audit-signer.issued',
  issuedMessage: 'audit signing certificate issued',
}

/**
 * kagi's SCEP certificate (profiles/scep-ra.ts): RSA, since SCEP clients
 * encrypt to it; lives a year, renewed 30 days before. Only the current one
 * decrypts (src/use-cases/scep-operation.ts): clients fetch GetCACert before
 * each enrollment.
 */
export const scepRaCredential: ServiceCredentialKind = {
  purpose: 'scep-ra',
  profile: scepRaProfile,
  renewBeforeMs: 30 * DAY_MS,
  keyType: 'rsa-2048',
  auditAction: 'scep-ra.issued',
  issuedMessage: 'SCEP certificate issued',
}

/**
 * The TLS server certificate of the check-my-device listener
 * (src/startup/check-listener.ts) for `hostname`: lives 30 days, renewed 10
 * days before, so a listener that misses a renewal still has days to spare.
 */
export function checkListenerCredential(hostname: string): ServiceCredentialKind {
  return {
    purpose: 'check-listener',
    profile: tlsServerProfile,
    renewBeforeMs: 10 * DAY_MS,
    keyType: 'ecdsa-p256',
    auditAction: 'check-listener.issued',
    issuedMessage: 'check listener TLS certificate issued',
    facts: { hostname },
  }
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

/** The CA that signs a service credential: the issuing CA's Authority, or {@link rootCredentialIssuer}. */
export interface CredentialIssuer {
  readonly issuing: Pick<IssuingCa, 'certificate'>
  sign(...args: Parameters<Authority['sign']>): ReturnType<Authority['sign']> | Promise<ReturnType<Authority['sign']>>
}

/**
 * A {@link CredentialIssuer} signing with the root, whose key is decrypted
 * only when a credential must actually be issued (`signer` is the same
 * on-demand root signer that signs the root CRL). Throws `ca_not_initialized`
 * when the root key is not available (an imported CA without its root key).
 * Only for profiles without revocation pointers (ocsp-signer): Authority's CRL
 * and AIA pointers name the issuing CA's URLs.
 */
export function rootCredentialIssuer(root: CertificateInfo, signer: () => Promise<Signer | undefined>, options: Omit<AuthorityOptions, 'issuing'>): CredentialIssuer {
  let authority: Authority | undefined
  return {
    issuing: { certificate: root },
    async sign(profile, request) {
      if (!authority) {
        const rootSigner = await signer()
        if (!rootSigner) throw new CaError('ca_not_initialized', 'the root key is not available to sign a service credential')
        authority = new Authority({ ...options, issuing: { certificate: root, signer: rootSigner } })
      }
      return authority.sign(profile, request)
    },
  }
}

/** What a {@link ServiceCredential} needs. */
export interface ServiceCredentialDeps {
  /** Signs the certificate; its issuing CA is the one the credential belongs to. */
  authority: CredentialIssuer
  /** Encrypts the stored key (the CA passphrase). */
  passphrase: string
  chain?: readonly Buffer[]
  log: Log
  now?: () => Date
}

/**
 * A certificate kagi issues to itself from its issuing CA (the OCSP responder,
 * the profile signer) or from its root (the root's OCSP responder): loaded
 * from the database, where every replica finds it, or issued on first use;
 * renewed before it expires. Only credentials of the current CA are used, so
 * rotating the CA rotates them too. Concurrent callers in one process share
 * one load or issuance.
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
    // A stored certificate for another host name (KAGI_CHECK_HOSTNAME changed) is not used: a new one is issued.
    const hostname = this.kind.facts?.hostname
    if (row && (!hostname || new X509Certificate(row.der).checkHost(hostname, { subject: 'never' }) !== undefined)) {
      const privateKey = await decryptPrivateKeyAsync(row.encrypted_key, this.deps.passphrase)
      return { certificate: Buffer.from(row.der), privateKey, chain, notAfter: new Date(row.not_after) }
    }
    const keys = await generateKey(keyType)
    const issued = await this.deps.authority.sign(profile, {
      facts: this.kind.facts ?? {},
      key: { publicKeyInfo: spkiOf(keys.publicKey), keyAlgorithm: keys.privateKey.asymmetricKeyType === 'rsa' ? 'rsa' : 'ec', keyDescription: keyType },
    })
    const encryptedKey = await encryptPrivateKey(keys.privateKey, this.deps.passphrase)
    await saveServiceCredential(this.db, { purpose, serial: issued.serial, caSerial, der: issued.der, encryptedKey, notAfter: issued.notAfter }, this.kind.auditAction)
    this.deps.log.info({ serial: issued.serial, notAfter: issued.notAfter.toISOString() }, this.kind.issuedMessage)
    return { certificate: issued.der, privateKey: keys.privateKey, chain, notAfter: issued.notAfter }
  }
}
