import { deviceProfile } from './device.js'
import { ocspSignerProfile } from './ocsp-signer.js'
import { userProfile } from './user.js'
import type { LeafProfile, LeafProfileId } from './types.js'

export * from './types.js'
export { issuingCaProfile, rootCaProfile } from './ca.js'
export { deviceProfile, ocspSignerProfile, userProfile }

/** Every leaf profile by id. */
export const leafProfiles: Readonly<Record<LeafProfileId, LeafProfile>> = {
  user: userProfile,
  device: deviceProfile,
  'ocsp-signer': ocspSignerProfile,
}

/** Profiles a client may request through the API (the OCSP signer is internal). */
export const requestableProfiles = ['user', 'device'] as const
export type RequestableProfileId = (typeof requestableProfiles)[number]
