import { isIP } from 'node:net'
import fastifyFormbody from '@fastify/formbody'
import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { samlMetadataRoute, samlRoutes } from '../auth/saml-routes.js'
import { registerSessions } from '../auth/session.js'
import { completeSignIn } from '../auth/sign-in.js'
import { bundleFor } from '../bundles.js'
import { isCertificateEmail } from '../../ca/index.js'
import { ConfigError, samlConfigured } from '../config.js'
import { platforms } from '../db/database.js'
import { activeSerialsOfDevice, devicesOfUser, findOwnedDevice } from '../db/device-repository.js'
import { ApiError, toHttpError } from '../errors.js'
import { issue } from '../issuance.js'
import { issueDeviceBundle } from '../device-bundles.js'
import { sendBundle } from '../routes/bundle-reply.js'
import { parseOrBadRequest } from '../validation.js'
import { bundlePlatforms } from '../../enrollment/bundle-types.js'
import { revoke } from '../use-cases/revoke.js'
import type { KagiServices } from '../startup/services.js'
import { newNonce, sendPage, type PageContext } from './html.js'
import { chooseLang, translate } from './i18n.js'
import { detectPlatform } from './platform.js'
import { homeView, readyView, signInFailedView, signInView, type EnrollFormValues, type SignInMode } from './views.js'

const LANG_COOKIE = 'kagi_lang'

const enrollForm = z.object({
  _csrf: z.string().optional(),
  platform: z.enum(platforms, { error: `choose a platform: ${platforms.join(', ')}` }),
  deviceName: z.string({ error: 'enter a device name' }).trim().min(1, 'enter a device name').max(64, 'the device name is too long (64 characters at most)'),
  kind: z.enum(['user', 'device']).default('user'),
  hostname: z
    .string()
    .trim()
    .max(253)
    .optional()
    .transform((v) => v || undefined),
})

const ownerBundleQuery = z.strictObject({
  platform: z.enum(bundlePlatforms, { error: `platform must be one of ${bundlePlatforms.join(', ')}` }).optional(),
  profile: z.enum(['user', 'device'], { error: 'profile must be user or device' }).default('user'),
  hostname: z.string().trim().min(1).max(253).optional(),
  signed: z.enum(['true', 'false'], { error: 'signed must be true or false' }).optional(),
})

const devLoginForm = z.object({ _csrf: z.string().optional(), email: z.string().trim().min(3).max(254), admin: z.literal('yes').optional() })

const isLoopback = (host: string): boolean => host === 'localhost' || (isIP(host) !== 0 && (host === '::1' || host.startsWith('127.')))

/** How this instance offers sign-in; refuses to run in production without SAML. */
export function signInMode(config: KagiServices['config']): SignInMode {
  if (samlConfigured(config)) return 'saml'
  if (config.production) throw new ConfigError('NODE_ENV=production requires SAML sign-in: set KAGI_SAML_IDP_METADATA (or KAGI_SAML_ENTRY_POINT and KAGI_SAML_IDP_CERT)')
  return isLoopback(config.host) ? 'development' : 'none'
}

/**
 * The employee's side of kagi: sign-in (SAML, or the development form), the
 * enrollment page at `/`, enrollment with a bundle for the platform, and
 * "I lost this device". Cookies, form bodies and CSRF live only in this
 * plugin: the JSON API outside it is unaffected.
 */
export async function webRoutes(app: FastifyInstance, { services }: { services: KagiServices }): Promise<void> {
  const { config, db } = services
  const mode = signInMode(config)
  await app.register(fastifyFormbody, { bodyLimit: 16 * 1024 })
  await app.register(fastifyRateLimit, { global: false })
  const authenticator = await registerSessions(app, config, services.sessionKey)

  const context = (request: FastifyRequest): PageContext => ({
    lang: chooseLang(request.headers['accept-language'], request.cookies?.[LANG_COOKIE]),
    nonce: newNonce(),
    path: request.url.split('?')[0] ?? '/',
  })

  // Pages answer errors as pages: a stack trace or a JSON body is no help to an employee.
  app.setErrorHandler((error, request, reply) => {
    const { status, body, internal } = toHttpError(error)
    if (internal) request.log.error({ err: error }, 'page request failed')
    if (request.url.startsWith('/api/')) return reply.code(status).header('cache-control', 'no-store').send(body)
    const e = error as { code?: string }
    const message = e.code?.startsWith('FST_CSRF')
      ? 'This form has expired. Go back, reload the page and try again.'
      : status === 429
        ? 'Too many attempts. Wait a minute and try again.'
        : body.error.message
    const ctx = context(request)
    return sendPage(reply, ctx, signInFailedView(ctx, message, request.url.startsWith('/auth/') ? 'signInFailed' : 'errorTitle'), status)
  })

  await app.register(samlMetadataRoute, { publicUrl: config.publicUrl })
  if (mode === 'saml') {
    await app.register(samlRoutes, {
      services,
      authenticator,
      failure: (request, reply, message) => sendPage(reply, context(request), signInFailedView(context(request), message), 401),
    })
  } else if (mode === 'development') {
    app.log.warn('SAML is not configured: offering the development sign-in on this loopback address (never in production)')
    app.post('/auth/dev-login', { preValidation: app.csrfProtection, config: { rateLimit: { max: 30, timeWindow: 60_000 } } }, async (request, reply) => {
      const form = devLoginForm.safeParse(request.body ?? {})
      const email = form.success ? form.data.email.toLowerCase() : ''
      if (!form.success || !isCertificateEmail(email)) {
        const ctx = context(request)
        return sendPage(reply, ctx, signInView(ctx, mode, await reply.generateCsrf(), 'Enter an email address.'), 400)
      }
      await completeSignIn(db, request, { email, groups: [], admin: form.data.admin === 'yes' }, 'development')
      return reply.redirect('/', 303)
    })
  }

  app.post('/auth/logout', { preValidation: app.csrfProtection }, async (request, reply) => {
    if (request.user) request.log.info({ user: request.user.email }, 'signed out')
    await request.logOut()
    request.session.delete()
    return reply.redirect('/', 303)
  })

  app.get<{ Params: { lang: string }; Querystring: { back?: string } }>('/lang/:lang', async (request, reply) => {
    const lang = request.params.lang === 'ja' ? 'ja' : 'en'
    const back = request.query.back && /^\/(?![/\\])/.test(request.query.back) ? request.query.back : '/'
    return reply
      .header('set-cookie', `${LANG_COOKIE}=${lang}; Path=/; Max-Age=31536000; SameSite=Lax${config.publicUrl.startsWith('https:') ? '; Secure' : ''}`)
      .redirect(back, 303)
  })

  async function home(request: FastifyRequest, reply: FastifyReply, extra: { error?: string; form?: EnrollFormValues } = {}, status = 200) {
    const ctx = context(request)
    const csrf = await reply.generateCsrf()
    const user = request.user
    const flash = request.session.get('notice')
    if (flash) request.session.set('notice', undefined)
    if (!user) {
      const message = flash === 'session-expired' ? translate(ctx.lang, 'sessionExpired') : flash
      return sendPage(reply, ctx, signInView(ctx, mode, csrf, message), status)
    }
    const account = await services.resolveUser(user.email)
    const devices = await devicesOfUser(db, account.id)
    return sendPage(
      reply,
      ctx,
      homeView(ctx, { user, csrf, detected: detectPlatform(request.headers['user-agent']), devices, notice: flash, portal: config.gpPortal, organization: config.caName, ...extra }),
      status,
    )
  }

  app.get('/', async (request, reply) => home(request, reply))

  app.post(
    '/enroll',
    {
      preValidation: app.csrfProtection,
      config: { rateLimit: { max: 10, timeWindow: 60_000, keyGenerator: (request: FastifyRequest) => request.user?.email ?? request.ip } },
    },
    async (request, reply) => {
      const user = request.user
      if (!user) return reply.redirect('/', 303)
      const parsed = enrollForm.safeParse(request.body ?? {})
      const raw = (request.body ?? {}) as Record<string, string>
      const values: EnrollFormValues = { platform: platforms.find((p) => p === raw.platform), deviceName: raw.deviceName, kind: raw.kind === 'device' ? 'device' : 'user', hostname: raw.hostname }
      if (!parsed.success) return home(request, reply, { error: parsed.error.issues[0]!.message, form: values }, 400)
      const form = parsed.data
      let issuance
      try {
        issuance = await issue(
          services,
          { profile: form.kind, user: user.email, device: { name: form.deviceName, platform: form.platform, hostname: form.hostname }, keyType: 'rsa-2048' },
          `user:${user.email}`,
        )
      } catch (error) {
        if (error instanceof ApiError && error.statusCode < 500) return home(request, reply, { error: error.message, form: values }, error.statusCode)
        throw error
      }
      const bundle = await bundleFor(services, form.platform, issuance.credential!)
      request.log.info({ user: user.email, serial: issuance.result.serial, platform: form.platform, kind: form.kind }, 'device enrolled')
      const ctx = context(request)
      return sendPage(
        reply,
        ctx,
        readyView(ctx, { user, csrf: await reply.generateCsrf(), platform: form.platform, kind: form.kind, portal: config.gpPortal, organization: config.caName, ...bundle }),
      )
    },
  )

  // The owner's download of a fresh bundle for one of their devices (replaces its current certificate).
  app.get<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>(
    '/api/v1/devices/:id/bundle',
    { config: { rateLimit: { max: 10, timeWindow: 60_000, keyGenerator: (request: FastifyRequest) => request.user?.email ?? request.ip } } },
    async (request, reply) => {
      const user = request.user
      if (!user) throw new ApiError(401, 'unauthorized', 'sign in at / first: this download is for the signed-in owner of the device')
      // A GET that issues must not be triggered from another site (Fetch Metadata, W3C).
      if (request.headers['sec-fetch-site'] === 'cross-site') throw new ApiError(403, 'forbidden', 'cross-site requests cannot issue certificates')
      const query = parseOrBadRequest(ownerBundleQuery, request.query, 'query parameter(s)')
      const account = await services.resolveUser(user.email)
      const device = await findOwnedDevice(db, account.id, request.params.id)
      if (!device) throw new ApiError(404, 'not_found', `no device ${request.params.id.slice(0, 64)} among yours`)
      const result = await issueDeviceBundle(services, {
        platform: query.platform ?? device.platform,
        email: user.email,
        device: device.id,
        profile: query.profile,
        hostname: query.hostname,
        renew: true,
        signed: query.signed !== 'false',
        actor: `user:${user.email}`,
      })
      request.log.info({ user: user.email, serial: result.serial, deviceId: device.id, superseded: result.superseded.length }, 'bundle downloaded by owner')
      return sendBundle(reply, result.bundle, result.serial)
    },
  )

  app.post<{ Params: { id: string } }>(
    '/devices/:id/lost',
    { preValidation: app.csrfProtection, config: { rateLimit: { max: 20, timeWindow: 60_000 } } },
    async (request, reply) => {
      const user = request.user
      if (!user) return reply.redirect('/', 303)
      const lang = context(request).lang
      const confirmed = (request.body as Record<string, string> | undefined)?.confirm === 'yes'
      const account = await services.resolveUser(user.email)
      const device = await findOwnedDevice(db, account.id, request.params.id)
      if (!device) throw new ApiError(404, 'not_found', 'no such device among yours')
      if (!confirmed) return home(request, reply, { error: translate(lang, 'lostConfirm') }, 400)
      const serials = await activeSerialsOfDevice(db, device.id)
      for (const serial of serials) await revoke(services, serial, 'keyCompromise', `user:${user.email}`)
      request.log.info({ user: user.email, deviceId: device.id, revoked: serials.length }, 'device reported lost')
      request.session.set('notice', translate(lang, serials.length ? 'lostDone' : 'lostNothing', { count: serials.length, device: device.name }))
      return reply.redirect('/', 303)
    },
  )
}

