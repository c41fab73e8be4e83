import type { Bundle, BundlePlatform } from '../enrollment/bundle-types.js'
import { bundleFor } from './bundles.js'
import type { Platform } from './db/database.js'
import { findOwnedDevice, isDeviceId, upsertDevice } from './db/device-repository.js'
import { ApiError, badRequest, notFound } from './errors.js'
import { issue } from './issuance.js'
import { revoke } from './use-cases/revoke.js'
import type { KagiServices } from './startup/services.js'

/** A certificate counts as near expiry, and is replaced on request, when less than this is left. */
export const RENEW_WITHIN_MS = 30 * 86_400_000

/** What an MDM, the CLI or the owner asks for: a platform's bundle for one device. */
export interface DeviceBundleRequest {
  platform: BundlePlatform
  email: string
  /** kagi's device id, or the device's hardware serial number (a new device is added to the inventory). */
  device?: string
  /** Without `device`: the device's name (found or added by name and platform). */
  deviceName?: string
  profile: 'user' | 'device'
  hostname?: string
  /** Replace a current certificate even when it is not near expiry. */
  renew?: boolean
  signed?: boolean
  actor: string
}

/** The bundle, the certificate in it, and the certificates it superseded. */
export interface DeviceBundle {
  bundle: Bundle
  serial: string
  deviceId: string
  superseded: string[]
}

/**
 * Issues a certificate for a device and packages it for the platform. An
 * MDM that fetches the same profile again must not pile up certificates:
 * while the device's current certificate of that profile is not near expiry
 * the answer is 409 unless `renew` is set; a new one revokes the old ones as
 * superseded (RFC 5280 §5.3.1) once the new one is issued.
 */
export async function issueDeviceBundle(services: KagiServices, request: DeviceBundleRequest): Promise<DeviceBundle> {
  if (!request.device && !request.deviceName) throw badRequest('name the device: its kagi id or serial number, or a device name')
  const user = await services.resolveUser(request.email)
  const byId = request.device !== undefined && isDeviceId(request.device)
  const known = byId ? await findOwnedDevice(services.db, user.id, request.device!) : undefined
  if (byId && !known) throw notFound(`no device ${request.device} belongs to ${user.email}`)
  if (known && known.platform !== request.platform) throw badRequest(`device ${known.id} is a ${known.platform} device, not ${request.platform}`)
  const device =
    known ??
    (await upsertDevice(services.db, user.id, {
      name: (request.deviceName ?? `${request.platform} ${request.device}`).slice(0, 128),
      platform: request.platform as Platform,
      serialNumber: request.device,
      hostname: request.hostname,
    }))
  const now = Date.now()
  const current = await services.db
    .selectFrom('certificate')
    .select(['serial', 'not_after'])
    .where('device_id', '=', device.id)
    .where('profile', '=', request.profile)
    .where('status', '=', 'active')
    .where('not_after', '>', new Date(now))
    .execute()
  const fresh = current.filter((c) => new Date(c.not_after).getTime() - now > RENEW_WITHIN_MS)
  if (fresh.length > 0 && !request.renew) {
    const newest = fresh.map((c) => new Date(c.not_after)).sort((a, b) => b.getTime() - a.getTime())[0]!
    throw new ApiError(
      409,
      'certificate_current',
      `device ${device.id} already has a ${request.profile} certificate valid until ${newest.toISOString()} (serial ${fresh[0]!.serial}); kagi keeps no private keys, so it cannot hand that one out again: add renew=true to replace it`,
    )
  }
  const { result, credential } = await issue(
    services,
    {
      profile: request.profile,
      user: user.email,
      device: { name: device.name, platform: device.platform, hostname: request.hostname ?? device.hostname ?? undefined, serialNumber: device.serial_number ?? undefined },
      keyType: 'rsa-2048',
    },
    request.actor,
  )
  const bundle = await bundleFor(services, request.platform, credential!, { signed: request.signed })
  for (const old of current) await revoke(services, old.serial, 'superseded', request.actor)
  return { bundle, serial: result.serial, deviceId: device.id, superseded: current.map((c) => c.serial) }
}
