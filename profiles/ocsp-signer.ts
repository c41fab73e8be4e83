import type { LeafProfile } from './types.js'

/**
 * `ocsp-signer`: the delegated OCSP responder certificate (RFC 6960 §4.2.2.2).
 * Short-lived and marked id-pkix-ocsp-nocheck, because a client cannot ask
 * the responder about the responder's own certificate.
 */
export const ocspSignerProfile: LeafProfile = {
  id: 'ocsp-signer',
  description: 'delegated OCSP responder certificate (short-lived, ocsp-nocheck)',
  validityDays: 7,
  requires: [],
  subject: 'caName',
  commonNameSuffix: 'OCSP Responder',
  subjectAltNames: [],
  keyUsage: { digitalSignature: true, keyEncipherment: false },
  extendedKeyUsage: ['1.3.6.1.5.5.7.3.9' /* id-kp-OCSPSigning */],
  ocspNoCheck: true,
  revocationPointers: false,
}
