import { buildScepBundle } from '../../enrollment/bundle.js'
import { stableUuid } from '../../enrollment/bundle-common.js'
import type { Bundle, ManagedMacOptions, Platform } from '../../enrollment/bundle-types.js'
import type { DeviceRow } from '../db/database.js'
import { deviceMatchKey, findDeviceByMatchKey, findOwnedDevice, isDeviceId } from '../db/device-repository.js'
import { badRequest, notFound } from '../errors.js'
import type { KagiServices } from '../startup/services.js'
import { bundleSettings } from './bundle-settings.js'
import { deviceByIdOrSerial } from './enroll.js'
import { createRecordChallenge, type ChallengeRequester } from './scep-challenges.js'

/** What an MDM asks for with delivery=scep (the query of GET /api/v1/mdm/profiles/<platform>). */
export interface ScepProfileRequest {
  platform: Platform
  email: string
  profile: 'user' | 'device'
  /** kagi's device id or the hardware serial number. */
  device: string
  hostname?: string
  signed: boolean
  /** MDM-only macOS additions (system-extension policy, AllowAllAppsAccess). */
  managed?: ManagedMacOptions
}

/** The profile, the challenge's expiry, and kagi's device id when the device is already in the inventory. */
export interface ScepProfile {
  bundle: Bundle
  expiresAt: Date
  deviceId?: string
}

/**
 * An Apple profile whose identity is a com.apple.security.scep payload: the
 * device enrolls itself at kagi's /scep with a fresh one-time challenge
 * bound to this user, this device and this profile (the URL's `?profile=`
 * keeps the challenge from being spent on the other profile). Nothing is
 * issued here, so there is no certificate_current check; the challenge is
 * audited by createRecordChallenge. A device named by a serial number kagi
 * does not know yet is bound by its description, and the enrollment adds it.
 */
export async function scepProfile(services: Pick<KagiServices, 'db' | 'config' | 'findUserId' | 'profileSigner' | 'chainDer'>, request: ScepProfileRequest, requester: ChallengeRequester): Promise<ScepProfile> {
  const { platform, email, profile } = request
  if (platform !== 'macos' && platform !== 'ios') {
    throw badRequest(`delivery=scep is for Apple profiles (macos, ios), not ${platform}; omit delivery to receive a PKCS#12 bundle`, 'scep_unavailable')
  }
  const known = await knownDevice(services, request)
  const hostname = request.hostname ?? known?.hostname ?? undefined
  // A device given by id is bound by id, and the enrollment takes its host name from the inventory.
  if (known && isDeviceId(request.device) && request.hostname && request.hostname !== known.hostname) {
    throw badRequest(`hostname ${request.hostname} is not device ${known.id}'s host name (${known.hostname ?? 'none'}): name the device by its serial number to change it`)
  }
  const device = isDeviceId(request.device) ? { id: request.device } : deviceByIdOrSerial(request.device, platform, hostname)
  // Prepared before the challenge is stored, so a failure here leaves no challenge behind.
  const settings = await bundleSettings(services, request.signed)
  const issued = await createRecordChallenge(services, { user: email, device, profile }, requester)
  const url = new URL(`${services.config.publicUrl}/scep`)
  url.searchParams.set('profile', profile)
  const bundle = buildScepBundle(
    platform,
    {
      kind: profile,
      url: url.toString(),
      challenge: issued.challenge,
      subject: profile === 'device' ? hostname! : email,
      email,
      // Identifiers derive from the device as the MDM names it, so fetching the profile again (after the enrollment added the device) replaces the profile.
      deviceId: isDeviceId(request.device) ? request.device : stableUuid(`serial:${request.device}`).toLowerCase(),
      deviceName: known?.name ?? `${platform} ${request.device}`,
      chain: services.chainDer,
    },
    settings,
    request.managed,
  )
  return { bundle, expiresAt: issued.expiresAt, deviceId: known?.id }
}

/** The user's device the request names, if kagi has it; a wrong platform is refused now rather than at enrollment. */
async function knownDevice(services: Pick<KagiServices, 'db' | 'findUserId'>, request: ScepProfileRequest): Promise<DeviceRow | undefined> {
  const userId = await services.findUserId(request.email)
  const byId = isDeviceId(request.device)
  const row = !userId ? undefined : byId ? await findOwnedDevice(services.db, userId, request.device) : await findDeviceByMatchKey(services.db, userId, deviceMatchKey({ name: '', platform: request.platform, serialNumber: request.device }))
  if (byId && !row) throw notFound(`no device ${request.device} belongs to ${request.email}`)
  if (row && row.platform !== request.platform) throw badRequest(`device ${row.id} is a ${row.platform} device, not ${request.platform}`)
  return row
}
