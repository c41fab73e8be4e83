/**
 * Certificate profiles: what each kind of certificate kagi issues must look
 * like, as reviewable data. The CA core (ca/) turns a profile plus *verified*
 * facts (a user's email from kagi's records, a device from the inventory)
 * into a certificate; nothing in a profile is taken from a CSR.
 */

/** Leaf profiles kagi issues. */
export type LeafProfileId = 'user' | 'device' | 'ocsp-signer' | 'profile-signer' | 'audit-signer' | 'scep-ra' | 'tls-server'

/** Facts about the subject that kagi itself vouches for. */
export type VerifiedField = 'email' | 'hostname' | 'deviceId'

/**
 * Where the subject common name comes from:
 * - `email`: the user's email (from kagi's user record);
 * - `hostname`: the device hostname (from the device inventory);
 * - `caName`: the CA's own name (service certificates such as the OCSP signer).
 */
export type SubjectSource = 'email' | 'hostname' | 'caName'

/**
 * One subjectAltName entry (RFC 5280 §4.2.1.6), each filled from a verified field:
 * - `rfc822:email`: rfc822Name = email;
 * - `upn:email`: otherName userPrincipalName (1.3.6.1.4.1.311.20.2.3) = email, for Windows and PAN-OS `subject-alt:principal-name`;
 * - `dns:hostname`: dNSName = hostname;
 * - `uri:device`: uniformResourceIdentifier `urn:kagi:device:<device id>`.
 */
export type SanRule = 'rfc822:email' | 'upn:email' | 'dns:hostname' | 'uri:device'

/** A leaf certificate profile. */
export interface LeafProfile {
  readonly id: LeafProfileId
  /** One line for humans (CLI, docs). */
  readonly description: string
  /** Validity from issuance; clamped to the issuing CA's own notAfter. */
  readonly validityDays: number
  /** Verified fields that must be present, or issuance is refused. */
  readonly requires: readonly VerifiedField[]
  readonly subject: SubjectSource
  /** With subject `caName`: appended to KAGI_CA_NAME ("kagi OCSP Responder"). */
  readonly commonNameSuffix?: string
  readonly subjectAltNames: readonly SanRule[]
  /**
   * keyUsage bits (RFC 5280 §4.2.1.3). `keyEncipherment: 'rsa'` sets it only
   * for RSA subject keys: RSA key transport needs it, an EC key cannot do it.
   */
  readonly keyUsage: { readonly digitalSignature: boolean; readonly keyEncipherment: boolean | 'rsa' }
  /** extendedKeyUsage key purpose OIDs (RFC 5280 §4.2.1.12). */
  readonly extendedKeyUsage: readonly string[]
  /** Adds id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): for delegated OCSP responders only. */
  readonly ocspNoCheck: boolean
  /** Adds the CRL distribution point and AIA (OCSP, caIssuers) pointing at kagi. */
  readonly revocationPointers: boolean
}

/** A CA certificate profile (root or issuing). */
export interface CaProfile {
  readonly id: 'root-ca' | 'issuing-ca'
  readonly validityDays: number
  /** basicConstraints pathLenConstraint (RFC 5280 §4.2.1.9). */
  readonly pathLength: number
  /** Suffix appended to KAGI_CA_NAME to form the common name. */
  readonly commonNameSuffix: string
}
