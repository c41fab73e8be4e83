import type { FastifyInstance } from 'fastify'
import { platforms } from '../../enrollment/bundle-types.js'
import { badRequest } from '../errors.js'
import { mdmProfileQuery } from '../schemas/enrollment.js'
import { parseOrBadRequest } from '../schemas/parse.js'
import { deviceByIdOrSerial, enroll } from '../use-cases/enroll.js'
import { tokenActor } from './api-v1-certificates.js'
import { sendBundle } from './bundle-reply.js'
import type { RouteOptions } from './route-options.js'

/**
 * GET /api/v1/mdm/profiles/<platform>: the per-OS profile for a user's
 * device, for MDMs (mdm or admin token). `device` is kagi's device id or the
 * hardware serial number (a new serial number adds the device to the
 * inventory). While the device's certificate of that profile is not near
 * expiry the answer is 409 `certificate_current` unless `renew=true`: an MDM
 * that fetches the same profile again must not pile up certificates.
 */
export async function mdmRoutes(app: FastifyInstance, { services, requireToken }: RouteOptions): Promise<void> {
  app.get<{ Params: { platform: string } }>('/api/v1/mdm/profiles/:platform', { preHandler: requireToken('mdm', 'admin') }, async (request, reply) => {
    const platform = platforms.find((p) => p === request.params.platform)
    if (!platform) throw badRequest(`platform must be one of ${platforms.join(', ')}`, 'invalid_platform')
    const query = parseOrBadRequest(mdmProfileQuery, request.query, 'query parameter(s)')
    // SCEP delivery needs kagi's SCEP server, which is a separate issue not built yet.
    if (query.delivery === 'scep') throw badRequest('delivery=scep is not available: kagi has no SCEP server yet; omit delivery to receive a PKCS#12 profile', 'scep_unavailable')
    const result = await enroll(services, {
      actor: tokenActor(request),
      email: query.user,
      profile: query.profile,
      device: deviceByIdOrSerial(query.device, platform, query.hostname),
      key: { generate: 'rsa-2048' },
      deliver: { as: 'bundle', platform, signed: query.signed !== 'false' },
      current: query.renew === 'true' ? 'supersede' : 'keep-unless-near-expiry',
    })
    request.log.info({ serial: result.serial, platform, deviceId: result.deviceId, superseded: result.superseded.length }, 'MDM profile issued')
    reply.header('x-kagi-device-id', result.deviceId)
    return sendBundle(reply, result.bundle!, result.serial)
  })
}
