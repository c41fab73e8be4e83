import { auditSignerProfile } from './audit-signer.js'
import { deviceProfile } from './device.js'
import { ocspSignerProfile } from './ocsp-signer.js'
import { profileSignerProfile } from './profile-signer.js'
import { scepRaProfile } from './scep-ra.js'
import { tlsServerProfile } from './tls-server.js'
import { userProfile } from './user.js'
import type { LeafProfile, LeafProfileId } from './types.js'

export * from './types.js'
export { issuingCaProfile, rootCaProfile } from './ca.js'
export { auditSignerProfile, deviceProfile, ocspSignerProfile, profileSignerProfile, scepRaProfile, tlsServerProfile, userProfile }
export { auditSignerPurpose } from './audit-signer.js'

/** Every leaf profile by id. */
export const leafProfiles: Readonly<Record<LeafProfileId, LeafProfile>> = {
  user: userProfile,
  device: deviceProfile,
  'ocsp-signer': ocspSignerProfile,
  'profile-signer': profileSignerProfile,
  'audit-signer': auditSignerProfile,
  'scep-ra': scepRaProfile,
  'tls-server': tlsServerProfile,
}

/**
 * The profiles a person or a device enrolls for: `user` (the employee's
 * certificate) and `device` (a machine certificate for the host name). The
 * OCSP, profile and audit signers, the SCEP certificate and the check listener's TLS certificate are kagi's own and never requested.
 */
export const enrollmentProfiles = ['user', 'device'] as const
export type EnrollmentProfile = (typeof enrollmentProfiles)[number]
