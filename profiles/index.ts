import { deviceProfile } from './device.js'
import { ocspSignerProfile } from './ocsp-signer.js'
import { profileSignerProfile } from './profile-signer.js'
import { userProfile } from './user.js'
import type { LeafProfile, LeafProfileId } from './types.js'

export * from './types.js'
export { issuingCaProfile, rootCaProfile } from './ca.js'
export { deviceProfile, ocspSignerProfile, profileSignerProfile, userProfile }

/** Every leaf profile by id. */
export const leafProfiles: Readonly<Record<LeafProfileId, LeafProfile>> = {
  user: userProfile,
  device: deviceProfile,
  'ocsp-signer': ocspSignerProfile,
  'profile-signer': profileSignerProfile,
}

/** Profiles a client may request through the API (the OCSP and profile signers are internal). */
export const requestableProfiles = ['user', 'device'] as const
export type RequestableProfileId = (typeof requestableProfiles)[number]
