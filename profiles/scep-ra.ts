import type { LeafProfile } from './types.js'

/**
 * `scep-ra`: kagi's SCEP certificate (RFC 8894 §2.2). Clients encrypt their
 * requests to it (keyEncipherment; RSA, since SCEP transports keys with
 * RSA) and verify kagi's CertReps with it (digitalSignature: certmonger's
 * OpenSSL refuses a signer without it). The CA keys sign only certificates
 * and CRLs, so a separate RSA key does this. EKU: id-kp-cmcRA (RFC 6402 §2.10)
 * for what it is, and emailProtection because OpenSSL's PKCS7_verify checks
 * the S/MIME signing purpose, which refuses an EKU without it.
 */
export const scepRaProfile: LeafProfile = {
  id: 'scep-ra',
  description: 'SCEP registration authority (encrypts requests, signs CertReps)',
  validityDays: 365,
  requires: [],
  subject: 'caName',
  commonNameSuffix: 'SCEP',
  subjectAltNames: [],
  keyUsage: { digitalSignature: true, keyEncipherment: true },
  extendedKeyUsage: ['1.3.6.1.5.5.7.3.28' /* id-kp-cmcRA */, '1.3.6.1.5.5.7.3.4' /* id-kp-emailProtection */],
  ocspNoCheck: false,
  // A service certificate like the profile signer: not in the certificate inventory, no CRL DP or AIA.
  revocationPointers: false,
}
