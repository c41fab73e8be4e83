import type { FastifyInstance } from 'fastify'
import { platforms, type ManagedMacOptions, type Platform } from '../../enrollment/bundle-types.js'
import type { Config } from '../config.js'
import { badRequest } from '../errors.js'
import { mdmProfileQuery } from '../schemas/enrollment.js'
import { parseOrBadRequest } from '../schemas/parse.js'
import { deviceByIdOrSerial, enroll } from '../use-cases/enroll.js'
import { scepProfile } from '../use-cases/scep-profile.js'
import { tokenActor } from './api-v1-certificates.js'
import { sendBundle } from './bundle-reply.js'
import type { RouteOptions } from './route-options.js'

/**
 * What an MDM-delivered macOS profile adds (enrollment/bundle-types.ts): the
 * system-extension policy by default in machine-certificate profiles, which
 * macOS installs on the device channel, and never in user-certificate ones
 * (the user channel cannot carry it: asking is a 400, not a profile macOS
 * would refuse); AllowAllAppsAccess as KAGI_MAC_ALLOW_ALL_APPS_ACCESS says.
 */
function managedMac(config: Pick<Config, 'macAllowAllAppsAccess'>, platform: Platform, profile: 'user' | 'device', systemExtension: 'true' | 'false' | undefined): ManagedMacOptions | undefined {
  if (platform !== 'macos') {
    if (systemExtension !== undefined) throw badRequest(`systemExtension applies to macos profiles, not ${platform}`)
    return undefined
  }
  if (profile === 'user' && systemExtension === 'true') {
    throw badRequest('systemExtension=true needs profile=device: macOS installs a system-extension policy only from a device-channel (machine) profile')
  }
  return { systemExtension: profile === 'device' && systemExtension !== 'false', allowAllAppsAccess: config.macAllowAllAppsAccess }
}

/**
 * GET /api/v1/mdm/profiles/<platform>: the per-OS profile for a user's
 * device, for MDMs (mdm or admin token). `device` is kagi's device id or the
 * hardware serial number (a new serial number adds the device to the
 * inventory). While the device's certificate of that profile is not near
 * expiry the answer is 409 `certificate_current` unless `renew=true`: an MDM
 * that fetches the same profile again must not pile up certificates. With
 * `delivery=scep` (macOS, iOS) the profile carries a SCEP payload and a
 * one-time challenge instead of a key: the device enrolls itself at /scep,
 * and the answer's `x-kagi-challenge-expires` says by when. macOS machine
 * profiles pre-approve GlobalProtect's system extension unless `systemExtension=false`.
 */
export async function mdmRoutes(app: FastifyInstance, { services, requireToken }: RouteOptions): Promise<void> {
  app.get<{ Params: { platform: string } }>('/api/v1/mdm/profiles/:platform', { preHandler: requireToken('mdm', 'admin') }, async (request, reply) => {
    const platform = platforms.find((p) => p === request.params.platform)
    if (!platform) throw badRequest(`platform must be one of ${platforms.join(', ')}`, 'invalid_platform')
    const query = parseOrBadRequest(mdmProfileQuery, request.query, 'query parameter(s)')
    const managed = managedMac(services.config, platform, query.profile, query.systemExtension)
    if (query.delivery === 'scep') {
      if (query.renew !== undefined) throw badRequest('renew applies to delivery=pkcs12: a SCEP profile issues nothing until the device enrolls')
      const principal = request.principal!
      const requester = { tokenId: principal.id, label: `token:${principal.name}`, clientIp: request.ip }
      const scep = await scepProfile(services, { platform, email: query.user, profile: query.profile, device: query.device, hostname: query.hostname, signed: query.signed !== 'false', managed }, requester)
      request.log.info({ platform, deviceId: scep.deviceId, profile: query.profile }, 'MDM SCEP profile issued')
      if (scep.deviceId) reply.header('x-kagi-device-id', scep.deviceId)
      reply.header('x-kagi-challenge-expires', scep.expiresAt.toISOString())
      return sendBundle(reply, scep.bundle)
    }
    const result = await enroll(services, {
      actor: tokenActor(request),
      email: query.user,
      profile: query.profile,
      device: deviceByIdOrSerial(query.device, platform, query.hostname),
      key: { generate: 'rsa-2048' },
      deliver: { as: 'bundle', platform, signed: query.signed !== 'false', managed },
      current: query.renew === 'true' ? 'supersede' : 'keep-unless-near-expiry',
    })
    request.log.info({ serial: result.serial, platform, deviceId: result.deviceId, superseded: result.superseded.length }, 'MDM profile issued')
    reply.header('x-kagi-device-id', result.deviceId)
    return sendBundle(reply, result.bundle!, result.serial)
  })
}
