import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { bundlePlatforms } from '../../enrollment/bundle-types.js'
import { issueDeviceBundle } from '../device-bundles.js'
import { badRequest } from '../errors.js'
import { parseOrBadRequest } from '../validation.js'
import { sendBundle } from './bundle-reply.js'
import type { RouteOptions } from './route-options.js'

const flag = z.enum(['true', 'false'], { error: 'must be true or false' }).optional()

const profileQuery = z.strictObject({
  user: z.string({ error: 'user (the employee email) is required' }).trim().min(3).max(254),
  device: z.string({ error: 'device (its serial number or kagi device id) is required' }).trim().min(1).max(128),
  profile: z.enum(['user', 'device'], { error: 'profile must be user or device' }).default('user'),
  hostname: z.string().trim().max(253).optional(),
  renew: flag,
  signed: flag,
  delivery: z.enum(['pkcs12', 'scep'], { error: 'delivery must be pkcs12 or scep' }).optional(),
})

/**
 * GET /api/v1/mdm/profiles/<platform>: the per-OS profile for a user's
 * device, for MDMs (mdm or admin token). Creates the device record when the
 * serial number is new and issues its certificate.
 */
export async function mdmRoutes(app: FastifyInstance, { services, requireToken }: RouteOptions): Promise<void> {
  app.get<{ Params: { platform: string } }>('/api/v1/mdm/profiles/:platform', { preHandler: requireToken('mdm', 'admin') }, async (request, reply) => {
    const platform = bundlePlatforms.find((p) => p === request.params.platform)
    if (!platform) throw badRequest(`platform must be one of ${bundlePlatforms.join(', ')}`, 'invalid_platform')
    const query = parseOrBadRequest(profileQuery, request.query, 'query parameter(s)')
    // SCEP delivery needs kagi's SCEP server, which is a separate issue not built yet.
    if (query.delivery === 'scep') throw badRequest('delivery=scep is not available: kagi has no SCEP server yet; omit delivery to receive a PKCS#12 profile', 'scep_unavailable')
    const result = await issueDeviceBundle(services, {
      platform,
      email: query.user,
      device: query.device,
      profile: query.profile,
      hostname: query.hostname || undefined,
      renew: query.renew === 'true',
      signed: query.signed !== 'false',
      actor: `token:${request.principal!.name}`,
    })
    request.log.info({ serial: result.serial, platform, deviceId: result.deviceId, superseded: result.superseded.length }, 'MDM profile issued')
    reply.header('x-kagi-device-id', result.deviceId)
    return sendBundle(reply, result.bundle, result.serial)
  })
}
