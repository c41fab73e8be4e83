import type { CaProfile } from './types.js'

/**
 * The root CA: offline in spirit (it signs only the issuing CA and its own
 * CRL). pathLen 1 allows exactly one intermediate below it.
 */
export const rootCaProfile: CaProfile = {
  id: 'root-ca',
  validityDays: 20 * 365,
  pathLength: 1,
  commonNameSuffix: 'Root CA',
}

/**
 * The issuing CA signs every leaf. pathLen 0: it may not create further CAs.
 * PAN-OS only treats a certificate as a CA with basicConstraints CA:TRUE,
 * which both CA profiles always carry (critical).
 */
export const issuingCaProfile: CaProfile = {
  id: 'issuing-ca',
  validityDays: 10 * 365,
  pathLength: 0,
  commonNameSuffix: 'Issuing CA',
}
