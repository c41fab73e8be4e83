import type { LeafProfile } from './types.js'

/**
 * kagi's private key purpose for signed audit-log heads: an OID under 2.25
 * (ITU-T X.667: a UUID as an OID, no registration needed), from UUID
 * ea90454e-c3f4-444e-bb52-f1133a4a28d7. `kagi audit verify` accepts a signed
 * head only from a certificate carrying it, so no other certificate kagi
 * issued (a user's, whose key the user holds) can sign one.
 */
export const auditSignerPurpose = '2.25.311788447488003534904290075137022765271'

/**
 * `audit-signer`: signs the head (sequence number and hash) of the
 * hash-chained audit log (src/use-cases/audit-heads.ts). digitalSignature
 * only; the private EKU above, because RFC 5280 §4.2.1.12 allows no empty
 * extendedKeyUsage and no public purpose fits.
 */
export const auditSignerProfile: LeafProfile = {
  id: 'audit-signer',
  description: 'audit-log head signing certificate (private EKU)',
  validityDays: 90,
  requires: [],
  subject: 'caName',
  commonNameSuffix: 'Audit Signing',
  subjectAltNames: [],
  keyUsage: { digitalSignature: true, keyEncipherment: false },
  extendedKeyUsage: [auditSignerPurpose],
  ocspNoCheck: false,
  // A service certificate like the profile signer: not in the certificate inventory, no CRL DP or AIA.
  revocationPointers: false,
}
