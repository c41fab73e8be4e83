import type { LeafProfile } from './types.js'

/**
 * `profile-signer`: signs configuration profiles (.mobileconfig as CMS
 * SignedData, RFC 5652) so that macOS and iOS show them as "Verified" once
 * kagi's root is trusted. emailProtection is the purpose CMS verifiers
 * (OpenSSL's default "smimesign" check, Apple's profile verifier) accept for
 * a signed message; an EKU without it would make `openssl cms -verify` need
 * `-purpose any`.
 */
export const profileSignerProfile: LeafProfile = {
  id: 'profile-signer',
  description: 'configuration-profile signing certificate (CMS, emailProtection)',
  validityDays: 365,
  requires: [],
  subject: 'caName',
  commonNameSuffix: 'Profile Signing',
  subjectAltNames: [],
  keyUsage: { digitalSignature: true, keyEncipherment: false },
  extendedKeyUsage: ['1.3.6.1.5.5.7.3.4' /* id-kp-emailProtection */],
  ocspNoCheck: false,
  // Like the OCSP signer it is a service certificate, not in the certificate inventory: no CRL DP or AIA to answer for.
  revocationPointers: false,
}
