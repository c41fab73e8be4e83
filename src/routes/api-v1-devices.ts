import type { FastifyInstance, FastifyRequest } from 'fastify'
import { findDeviceOfEmail } from '../db/device-repository.js'
import { ApiError } from '../errors.js'
import { ownerBundleQuery } from '../schemas/enrollment.js'
import { parseOrBadRequest } from '../schemas/parse.js'
import type { KagiServices } from '../startup/services.js'
import { enroll, type EnrollRequest } from '../use-cases/enroll.js'
import { sendBundle } from './bundle-reply.js'

/** What the page's plugin hands over: the services, and how it names a signed-in actor and limits per user. */
export interface OwnerDeviceOptions {
  services: KagiServices
  selfService: (email: string, clientIp?: string) => EnrollRequest['actor']
  perUserLimit: (max: number) => Record<string, unknown>
}

/**
 * GET /api/v1/devices/<id>/bundle: the signed-in owner's download of a fresh
 * bundle for one of their devices; the device's current certificate of that
 * profile is superseded. Registered inside the page's plugin, where the
 * session cookie is read.
 */
export async function ownerDeviceRoutes(app: FastifyInstance, { services, selfService, perUserLimit }: OwnerDeviceOptions): Promise<void> {
  app.get<{ Params: { id: string } }>('/api/v1/devices/:id/bundle', { config: perUserLimit(10) }, async (request: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const user = request.user
    if (!user) throw new ApiError('unauthorized', 'sign in at / first: this download is for the signed-in owner of the device')
    // A GET that issues must not be triggered from another site (Fetch Metadata, W3C).
    if (request.headers['sec-fetch-site'] === 'cross-site') throw new ApiError('forbidden', 'cross-site requests cannot issue certificates')
    const query = parseOrBadRequest(ownerBundleQuery, request.query, 'query parameter(s)')
    const device = await findDeviceOfEmail(services.db, user.email, request.params.id)
    if (!device) throw new ApiError('not_found', `no device ${request.params.id.slice(0, 64)} among yours`)
    const platform = query.platform ?? device.platform
    const result = await enroll(services, {
      actor: selfService(user.email, request.ip),
      email: user.email,
      profile: query.profile,
      device: { id: device.id, platform, hostname: query.hostname },
      key: { generate: 'rsa-2048' },
      deliver: { as: 'bundle', platform, signed: query.signed !== 'false' },
      current: 'supersede',
    })
    request.log.info({ user: user.email, serial: result.serial, deviceId: device.id, superseded: result.superseded.length }, 'bundle downloaded by owner')
    return sendBundle(reply, result.bundle!, result.serial)
  })
}
