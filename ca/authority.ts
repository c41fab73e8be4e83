import { leafProfiles, type LeafProfile, type LeafProfileId } from '../profiles/index.js'
import { signCertificate, signCertificateOffThread, type CertificateFields } from './certificate.js'
import type { CertificateInfo } from './certificate-info.js'
import { CaError } from './errors.js'
import {
  authorityInfoAccess,
  authorityKeyIdentifier,
  crlDistributionPoint,
  extendedKeyUsage,
  keyIdentifier,
  keyUsage,
  KeyUsageBit,
  ocspNoCheck,
  subjectAltName,
  subjectKeyIdentifier,
  type GeneralName,
} from './extensions.js'
import { encodeName } from './name.js'
import { SerialConflictError, type AuditEvent, type Clock, type IssuedCertificate, type PersistIssued } from './ports.js'
import { newSerial, serialToHex } from './serial.js'
import type { Signer } from './signer.js'
import { requireFacts, type VerifiedFacts } from './subject-facts.js'

/** The issuing CA: its certificate and a signer for its key. */
export interface IssuingCa {
  certificate: CertificateInfo
  signer: Signer
}

/** Construction options; defaults noted per field. */
export interface AuthorityOptions {
  issuing: IssuingCa
  /** Base URL for CRL distribution point and AIA, without a trailing slash. */
  publicUrl: string
  /** CA name, used as the subject of service certificates (OCSP signer). */
  caName: string
  /** Default: system time. */
  clock?: Clock
  /** notBefore is set this far in the past to tolerate client clock skew. Default 300 s. */
  backdateSeconds?: number
}

/** The subject public key, from a verified CSR or a key kagi generated. */
export interface SubjectKey {
  publicKeyInfo: Buffer
  keyAlgorithm: 'rsa' | 'ec'
  keyDescription: string
}

/** One issuance: which profile, the verified facts, the key, who asked. */
export interface IssueRequest {
  profile: LeafProfileId
  facts: VerifiedFacts
  key: SubjectKey
  actor: string
}

const DAY = 86_400_000
const MAX_SERIAL_ATTEMPTS = 3

/**
 * Authority signs leaf certificates from kagi's profiles and stores them.
 * Issuance is one ordered pipeline (see {@link Authority.issue}); the parts of
 * each certificate that never change (AKI, CRL DP, AIA, EKU, key usage) are
 * encoded once here, which is what makes thousands of issuances per second
 * possible.
 */
export class Authority {
  readonly issuing: IssuingCa
  private readonly clock: Clock
  private readonly backdateMs: number
  private readonly caName: string
  private readonly fixedExtensions = new Map<string, Buffer[]>()

  constructor(options: AuthorityOptions) {
    this.issuing = options.issuing
    this.clock = options.clock ?? (() => new Date())
    this.backdateMs = (options.backdateSeconds ?? 300) * 1000
    this.caName = options.caName
    const issuerKeyId = options.issuing.certificate.subjectKeyId ?? keyIdentifier(options.issuing.certificate.publicKeyInfo)
    const aki = authorityKeyIdentifier(issuerKeyId)
    const pointers = [
      crlDistributionPoint(`${options.publicUrl}/pki/crl`),
      authorityInfoAccess(`${options.publicUrl}/ocsp`, `${options.publicUrl}/pki/issuing.crt`),
    ]
    for (const profile of Object.values(leafProfiles)) {
      for (const keyAlgorithm of ['rsa', 'ec'] as const) {
        const bits: number[] = []
        if (profile.keyUsage.digitalSignature) bits.push(KeyUsageBit.digitalSignature)
        const ke = profile.keyUsage.keyEncipherment
        if (ke === true || (ke === 'rsa' && keyAlgorithm === 'rsa')) bits.push(KeyUsageBit.keyEncipherment)
        const fixed = [keyUsage(bits), extendedKeyUsage(profile.extendedKeyUsage), aki]
        if (profile.revocationPointers) fixed.push(...pointers)
        if (profile.ocspNoCheck) fixed.push(ocspNoCheck())
        this.fixedExtensions.set(`${profile.id}/${keyAlgorithm}`, fixed)
      }
    }
  }

  /**
   * Issues a certificate: resolve profile → check verified facts → build
   * subject and SANs from those facts → validity (clamped to the CA) → serial
   * → sign → `persist` (the caller packages and stores it with its audit
   * event, and returns what it wants). Nothing from a CSR but the public key
   * reaches the certificate. When `persist` reports a serial that already
   * exists, the certificate is signed again with a new serial.
   */
  async issue<T>(request: IssueRequest, persist: PersistIssued<T>): Promise<T> {
    const profile = leafProfiles[request.profile]
    if (!profile) throw new CaError('profile_violation', `unknown profile ${String(request.profile)}`)
    requireFacts(profile, request.facts)
    for (let attempt = 1; ; attempt++) {
      // Off the event loop where the issuing signer has a thread for it (the caller is waiting anyway).
      const { fields, issued: described } = this.prepare(profile, request)
      const issued = { ...described, der: await signCertificateOffThread(fields, this.issuing.signer) }
      const audit: AuditEvent = {
        actor: request.actor,
        action: 'certificate.issued',
        serial: issued.serial,
        details: { profile: profile.id, subject: issued.subject, key: issued.keyDescription, notAfter: issued.notAfter.toISOString() },
      }
      try {
        return await persist(issued, audit)
      } catch (error) {
        // 126 random bits make a collision practically impossible; the database's key enforces it anyway.
        if (!(error instanceof SerialConflictError) || attempt >= MAX_SERIAL_ATTEMPTS) throw error
      }
    }
  }

  /** Signs without storing: the pure part of {@link issue}. */
  sign(profile: LeafProfile, request: Pick<IssueRequest, 'facts' | 'key'>): IssuedCertificate {
    const { fields, issued } = this.prepare(profile, request)
    return { ...issued, der: signCertificate(fields, this.issuing.signer) }
  }

  /** The certificate's fields, and what is known of it before it is signed. */
  private prepare(profile: LeafProfile, request: Pick<IssueRequest, 'facts' | 'key'>): { fields: CertificateFields; issued: Omit<IssuedCertificate, 'der'> } {
    const now = this.clock()
    const notBefore = new Date(now.getTime() - this.backdateMs)
    const caNotAfter = this.issuing.certificate.notAfter
    let notAfter = new Date(now.getTime() + profile.validityDays * DAY)
    // RFC 5280 §6.1.3 would reject a leaf outliving its issuer on some clients; never issue one.
    if (notAfter > caNotAfter) notAfter = caNotAfter
    if (notAfter <= now) throw new CaError('ca_not_initialized', 'the issuing CA has expired; rotate it with `kagi ca init --force` or `kagi ca import`')
    const commonName = this.commonName(profile, request.facts)
    const serial = newSerial()
    const extensions = [
      ...this.fixedExtensions.get(`${profile.id}/${request.key.keyAlgorithm}`)!,
      subjectKeyIdentifier(keyIdentifier(request.key.publicKeyInfo)),
    ]
    const sans = subjectAltNames(profile, request.facts)
    if (sans.length > 0) extensions.push(subjectAltName(sans))
    const fields: CertificateFields = {
      serial,
      issuer: this.issuing.certificate.subject,
      subject: encodeName({ commonName }),
      notBefore,
      notAfter,
      publicKeyInfo: request.key.publicKeyInfo,
      extensions,
    }
    return { fields, issued: { serial: serialToHex(serial), profile: profile.id, subject: commonName, notBefore, notAfter, keyDescription: request.key.keyDescription } }
  }

  private commonName(profile: LeafProfile, facts: VerifiedFacts): string {
    switch (profile.subject) {
      case 'email':
        return facts.email!
      case 'hostname':
        return facts.hostname!
      case 'caName':
        return `${this.caName} ${profile.commonNameSuffix ?? 'Service'}`
    }
  }
}

function subjectAltNames(profile: LeafProfile, facts: VerifiedFacts): GeneralName[] {
  return profile.subjectAltNames.map((rule): GeneralName => {
    switch (rule) {
      case 'rfc822:email':
        return { type: 'email', value: facts.email! }
      case 'upn:email':
        return { type: 'upn', value: facts.email! }
      case 'dns:hostname':
        return { type: 'dns', value: facts.hostname!.toLowerCase() }
      case 'uri:device':
        return { type: 'uri', value: `urn:kagi:device:${facts.deviceId!}` }
    }
  })
}
