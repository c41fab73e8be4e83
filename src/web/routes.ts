import fastifyFormbody from '@fastify/formbody'
import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { platforms, type Platform } from '../../enrollment/bundle-types.js'
import type { EnrollmentProfile } from '../../profiles/index.js'
import { samlMetadataRoute } from '../auth/saml-metadata.js'
import { registerSessions, signOut } from '../auth/session.js'
import { completeSignIn } from '../auth/sign-in.js'
import { ConfigError, isLoopbackHost, samlConfigured } from '../config.js'
import { activeSerialsOfDevice, devicesOfUser, findDeviceOfEmail } from '../db/device-repository.js'
import { enrollForm, renewForm } from '../schemas/enrollment.js'
import { emailField } from '../schemas/identity.js'
import { parseQueryString } from '../schemas/query-string.js'
import { enroll, type EnrollRequest, type Enrollment } from '../use-cases/enroll.js'
import { ownerDeviceRoutes } from '../routes/api-v1-devices.js'
import { adminRoutes } from './admin/routes.js'
import { ApiError } from '../errors.js'
import { revoke } from '../use-cases/revoke.js'
import type { KagiServices } from '../startup/services.js'
import { sendPage } from './html.js'
import { formIssueKey, refusalKey } from './employee-messages.js'
import { translate, translateCount, type MessageKey } from './i18n.js'
import { LANG_COOKIE, pageContext } from './error-page.js'
import { localPath } from './local-path.js'
import { detectPlatform, machinePlatforms, offersMachineCertificate } from './platform.js'
import { READY_PATH, readyView, type ReadyRecord } from './ready-view.js'
import { caCertificateUrls } from './steps-view.js'
import { homeView, signInFailedView, signInView, type EnrollFormValues, type SignInMode } from './views.js'

const devLoginForm = z.object({ _csrf: z.string().optional(), email: emailField('email'), admin: z.literal('yes').optional() })


/**
 * How this instance offers sign-in; refuses to run in production without
 * SAML. The development sign-in (anyone may type any email) is offered only
 * when both the listening address and the public URL are loopback: a
 * reverse proxy in front of a loopback-bound kagi has a public URL that is
 * not, and must not expose it.
 */
export function signInMode(config: KagiServices['config']): SignInMode {
  if (samlConfigured(config)) return 'saml'
  if (config.production) throw new ConfigError('NODE_ENV=production requires SAML sign-in: set KAGI_SAML_IDP_METADATA (or KAGI_SAML_ENTRY_POINT and KAGI_SAML_IDP_CERT)')
  return isLoopbackHost(config.host) && isLoopbackHost(new URL(config.publicUrl).hostname) ? 'development' : 'none'
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
  const signInDeps = { db, records: services.sessions.records, metrics: services.metrics }
  await app.register(fastifyFormbody, { bodyLimit: 16 * 1024, parser: parseQueryString })
  await app.register(fastifyRateLimit, { global: false })
  const authenticator = await registerSessions(app, config, services.sessions)

  const context = pageContext
  const steps = { portal: config.gpPortal, organization: config.caName, caCertificates: caCertificateUrls(config.publicUrl), checkUrl: config.check?.url }

  await app.register(samlMetadataRoute, { publicUrl: config.publicUrl })
  if (mode === 'saml') {
    // Loaded only when SAML is configured (node-saml, passport-saml and xml-crypto: ~50 ms of a start).
    const { samlRoutes } = await import('../auth/saml-routes.js')
    await app.register(samlRoutes, {
      services,
      authenticator,
      // The reason is in the audit log (auth.sign-in-refused); the employee is told what to do in their language.
      failure: (request, reply) => {
        const ctx = context(request)
        return sendPage(reply, ctx, signInFailedView(ctx, translate(ctx.lang, 'signInRefused')), 401)
      },
    })
  } else if (mode === 'none') {
    // The page only says sign-in is not set up (employees cannot act on a variable name); the admin reads it here.
    app.log.warn('no sign-in is offered: set KAGI_SAML_IDP_METADATA (or KAGI_SAML_ENTRY_POINT and KAGI_SAML_IDP_CERT)')
  } else if (mode === 'development') {
    app.log.warn('SAML is not configured: offering the development sign-in on this loopback address (never in production)')
    app.post('/auth/dev-login', { preValidation: app.csrfProtection, config: { rateLimit: { max: 30, timeWindow: 60_000 } } }, async (request, reply) => {
      const form = devLoginForm.safeParse(request.body ?? {})
      if (!form.success) {
        const ctx = context(request)
        return sendPage(reply, ctx, signInView(ctx, mode, await reply.generateCsrf(), translate(ctx.lang, 'enterEmail')), 400)
      }
      await completeSignIn(signInDeps, request, { email: form.data.email, groups: [], admin: form.data.admin === 'yes' }, 'development')
      return reply.redirect('/', 303)
    })
  }

  app.post('/auth/logout', { preValidation: app.csrfProtection }, async (request, reply) => {
    if (request.user) request.log.info({ user: request.user.email }, 'signed out')
    await signOut(request, services.sessions.records)
    return reply.redirect('/', 303)
  })

  app.get<{ Params: { lang: string }; Querystring: { back?: string } }>('/lang/:lang', async (request, reply) => {
    const lang = request.params.lang === 'ja' ? 'ja' : 'en'
    const back = localPath(request.query.back)
    return reply
      .header('set-cookie', `${LANG_COOKIE}=${lang}; Path=/; Max-Age=31536000; SameSite=Lax${config.publicUrl.startsWith('https:') ? '; Secure' : ''}`)
      .redirect(back, 303)
  })

  const offered = machinePlatforms(config.pageMachineCertificates)

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
    const userId = await services.findUserId(user.email)
    const devices = userId ? await devicesOfUser(db, userId) : []
    return sendPage(
      reply,
      ctx,
      homeView(ctx, { user, csrf, detected: detectPlatform(request.headers['user-agent']), devices, notice: flash, steps, machinePlatforms: offered, ...extra }),
      status,
    )
  }

  app.get('/', async (request, reply) => home(request, reply))

  const selfService = (email: string, clientIp?: string) => ({ label: `user:${email}`, role: 'self-service' as const, clientIp })
  // Counted per signed-in user, so employees behind one NAT or proxy do not share a bucket; anonymous
  // requests count in their address's own bucket and never in a user's. On preHandler: the session (and
  // so request.user) is read in preValidation, after the limiter's default onRequest.
  const perUserLimit = (max: number) => ({
    rateLimit: { max, timeWindow: 60_000, hook: 'preHandler' as const, keyGenerator: (request: FastifyRequest) => (request.user ? `user:${request.user.email}` : `ip:${request.ip}`) },
  })

  /** The download page; `bundle` only in the answer to the enrollment, whose language switch and reload then land on GET /enroll. */
  async function sendReady(request: FastifyRequest, reply: FastifyReply, record: ReadyRecord, bundle?: Enrollment['bundle']) {
    const ctx = { ...context(request), path: READY_PATH }
    return sendPage(reply, ctx, readyView(ctx, { ...record, user: request.user!, csrf: await reply.generateCsrf(), bundle, steps }))
  }

  /** After an enrollment: the session remembers which download page to show again (never the bundle or its password). */
  async function ready(request: FastifyRequest, reply: FastifyReply, enrollment: Enrollment, platform: Platform, kind: EnrollmentProfile) {
    const bundle = enrollment.bundle!
    const record: ReadyRecord = { serial: enrollment.serial, platform, kind, filename: bundle.filename, password: bundle.pkcs12Password !== undefined }
    request.session.set('ready', record)
    return sendReady(request, reply, record, bundle)
  }

  // The last download page again, in the current language; the page's script restores the download from the tab.
  app.get(READY_PATH, async (request, reply) => {
    const record = request.session.get('ready')
    if (!request.user || !record) return reply.redirect('/', 303)
    return sendReady(request, reply, record)
  })

  /** Enrolls for the page; a refusal (4xx) shows the home page again with its message, and answers undefined. */
  async function enrollOrShowForm(request: FastifyRequest, reply: FastifyReply, extra: { form?: EnrollFormValues }, enrollRequest: EnrollRequest): Promise<Enrollment | undefined> {
    try {
      return await enroll(services, enrollRequest)
    } catch (error) {
      if (!(error instanceof ApiError) || error.statusCode >= 500) throw error
      await home(request, reply, { error: translate(context(request).lang, refusalKey(error)), ...extra }, error.statusCode)
      return undefined
    }
  }

  /** Rules of the page's form beyond its schema: machine certificates only on computers, and with a host name. */
  function machineProblem(form: { platform: Platform; kind: EnrollmentProfile; hostname?: string }): MessageKey | undefined {
    if (form.kind !== 'device') return undefined
    if (!offersMachineCertificate(form.platform, offered)) return offered.length === 0 ? 'formMachineOff' : 'formMachineOnly'
    return form.hostname ? undefined : 'formHostnameRequired'
  }

  app.post('/enroll', { preValidation: app.csrfProtection, config: perUserLimit(10) }, async (request, reply) => {
    const user = request.user
    if (!user) return reply.redirect('/', 303)
    const parsed = enrollForm.safeParse(request.body ?? {})
    const raw = (request.body ?? {}) as Record<string, string>
    const values: EnrollFormValues = { platform: platforms.find((p) => p === raw.platform), deviceName: raw.deviceName, kind: raw.kind === 'device' ? 'device' : 'user', hostname: raw.hostname }
    const lang = context(request).lang
    if (!parsed.success) return home(request, reply, { error: translate(lang, formIssueKey(parsed.error)), form: values }, 400)
    const form = parsed.data
    const problem = machineProblem(form)
    if (problem) return home(request, reply, { error: translate(lang, problem), form: values }, 400)
    const enrollment = await enrollOrShowForm(request, reply, { form: values }, {
      actor: selfService(user.email, request.ip),
      email: user.email,
      profile: form.kind,
      device: { name: form.deviceName, platform: form.platform, hostname: form.hostname },
      key: { generate: 'rsa-2048' },
      deliver: { as: 'bundle', platform: form.platform, signed: true },
      current: 'supersede',
      uniqueDeviceName: true,
    })
    if (!enrollment) return reply
    request.log.info({ user: user.email, serial: enrollment.serial, platform: form.platform, kind: form.kind }, 'device enrolled')
    return ready(request, reply, enrollment, form.platform, form.kind)
  })

  // "Download again": a new certificate and bundle for one of the user's devices; the current one is superseded.
  app.post<{ Params: { id: string } }>('/devices/:id/renew', { preValidation: app.csrfProtection, config: perUserLimit(10) }, async (request, reply) => {
    const user = request.user
    if (!user) return reply.redirect('/', 303)
    const device = await findDeviceOfEmail(db, user.email, request.params.id)
    if (!device) throw new ApiError('not_found', 'no such device among yours')
    const form = renewForm.safeParse(request.body ?? {})
    const kind = (form.success && form.data.kind) || 'user'
    const enrollment = await enrollOrShowForm(request, reply, {}, {
      actor: selfService(user.email, request.ip),
      email: user.email,
      profile: kind,
      device: { id: device.id },
      key: { generate: 'rsa-2048' },
      deliver: { as: 'bundle', platform: device.platform, signed: true },
      current: 'supersede',
    })
    if (!enrollment) return reply
    request.log.info({ user: user.email, serial: enrollment.serial, deviceId: device.id, superseded: enrollment.superseded.length }, 'device renewed')
    return ready(request, reply, enrollment, device.platform, kind)
  })

  await app.register(ownerDeviceRoutes, { services, selfService, perUserLimit })
  await app.register(adminRoutes, { services })

  app.post<{ Params: { id: string } }>(
    '/devices/:id/lost',
    { preValidation: app.csrfProtection, config: perUserLimit(20) },
    async (request, reply) => {
      const user = request.user
      if (!user) return reply.redirect('/', 303)
      const lang = context(request).lang
      const confirmed = (request.body as Record<string, string> | undefined)?.confirm === 'yes'
      const device = await findDeviceOfEmail(db, user.email, request.params.id)
      if (!device) throw new ApiError('not_found', 'no such device among yours')
      if (!confirmed) return home(request, reply, { error: translate(lang, 'lostConfirm') }, 400)
      const serials = await activeSerialsOfDevice(db, device.id)
      for (const serial of serials) await revoke(services, serial, 'keyCompromise', `user:${user.email}`, request.ip)
      request.log.info({ user: user.email, deviceId: device.id, revoked: serials.length }, 'device reported lost')
      request.session.set('notice', serials.length ? translateCount(lang, 'lostDone', serials.length, { device: device.name }) : translate(lang, 'lostNothing', { device: device.name }))
      return reply.redirect('/', 303)
    },
  )
}

