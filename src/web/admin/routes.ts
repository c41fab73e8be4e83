import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { parseCrl } from '../../../ca/index.js'
import { deviceDetail, findUsers, listAudit, userDetail, type AuditFilter } from '../../db/admin-queries.js'
import { searchCertificates, type CertificateHit, type CertificateSearch } from '../../db/certificate-search.js'
import { lastVerification } from '../../db/audit-chain.js'
import { dashboardStats } from '../../db/dashboard-stats.js'
import { createToken, listTokens, revokeToken, TokenNameInUseError } from '../../db/token-repository.js'
import { ConfigError } from '../../config.js'
import { ApiError } from '../../errors.js'
import { loadPanosConfig } from '../../panos/config.js'
import { PanosError } from '../../panos/errors.js'
import { pushToPanos } from '../../panos/push.js'
import { panosPushSource, unreachableByFirewall } from '../../use-cases/panos-push.js'
import { auditCsvColumns } from '../../routes/api-v1-audit.js'
import { sendCsv, type CsvColumn } from '../../routes/csv.js'
import { adminRevokeForm, adminSearchQuery, tokenForm } from '../../schemas/admin-pages.js'
import { auditListQuery } from '../../schemas/admin.js'
import { emailField } from '../../schemas/identity.js'
import { parseOrBadRequest } from '../../schemas/parse.js'
import type { KagiServices } from '../../startup/services.js'
import { revokeDevice, revokeUser } from '../../use-cases/offboard.js'
import { pageContext } from '../error-page.js'
import { sendPage, type Html } from '../html.js'
import { at } from './admin-i18n.js'
import { auditView } from './audit-view.js'
import { dashboardView, type DashboardModel } from './dashboard-view.js'
import { forbiddenView, type AdminContext } from './layout.js'
import { deviceView, userView, type RevocationOutcome } from './records-view.js'
import { searchView } from './search-view.js'
import { panosView } from './panos-view.js'
import { tokensView } from './tokens-view.js'
import { neverUsed } from '../../revocation/last-seen.js'

const PAGE_SIZE = 50
const CSV_ROWS = 10_000

/** The query string without `offset` (pages and the CSV export keep the filters). */
function filterQuery(query: Record<string, unknown>): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (key !== 'offset' && typeof value === 'string' && value !== '') params.set(key, value)
  return params.toString()
}

const hitCsvColumns: readonly CsvColumn<CertificateHit>[] = [
  { header: 'serial', value: (h) => h.serial },
  { header: 'user', value: (h) => h.user },
  { header: 'displayName', value: (h) => h.displayName },
  { header: 'deviceId', value: (h) => h.deviceId },
  { header: 'deviceName', value: (h) => h.deviceName },
  { header: 'platform', value: (h) => h.platform },
  { header: 'hostname', value: (h) => h.hostname },
  { header: 'serialNumber', value: (h) => h.serialNumber },
  { header: 'profile', value: (h) => h.profile },
  { header: 'status', value: (h) => h.status },
  { header: 'notAfter', value: (h) => h.notAfter },
  { header: 'revokedAt', value: (h) => h.revokedAt },
  { header: 'revocationReason', value: (h) => h.revocationReason },
  { header: 'lastOcspCheckAt', value: (h) => h.lastOcspCheckAt },
  { header: 'ocspChecks', value: (h) => h.ocspChecks },
  { header: 'neverUsed', value: (h) => neverUsed(h) },
]

/**
 * The admin console at /admin (registered inside the web plugin: the
 * session, CSRF tokens and form bodies are the enrollment page's). Only
 * users signed in with an admin group (or the development sign-in's admin
 * box) get past the first hook; everyone else gets a 403 page that shows
 * nothing of the console.
 */
export async function adminRoutes(app: FastifyInstance, { services }: { services: KagiServices }): Promise<void> {
  const { db } = services

  app.addHook('preHandler', async (request, reply) => {
    if (request.user?.admin) return
    request.log.info({ user: request.user?.email, path: request.url.split('?')[0] }, 'admin page refused')
    const ctx = pageContext(request)
    await sendPage(reply, ctx, forbiddenView(ctx, Boolean(request.user)), 403)
    return reply
  })

  async function context(request: FastifyRequest, reply: FastifyReply): Promise<AdminContext> {
    return { ...pageContext(request), user: request.user!, csrf: await reply.generateCsrf() }
  }
  const show = (reply: FastifyReply, ctx: AdminContext, body: Html, status = 200) => sendPage(reply, ctx, body, status)
  const actorOf = (request: FastifyRequest) => `user:${request.user!.email}`

  app.get('/admin', async (request, reply) => {
    const ctx = await context(request, reply)
    const now = new Date()
    const [stats, verified] = await Promise.all([dashboardStats(db, now), lastVerification(db)])
    const lastVerified = verified && {
      at: verified.at,
      ok: verified.ok,
      summary: verified.ok ? `${verified.events} events, chain intact${verified.signedSeq ? `, signed to ${verified.signedSeq}` : ''}` : `FAILED: ${verified.problem ?? 'see kagi audit verify'}`,
    }
    const model: DashboardModel = { stats, ocspPerHour: services.ocspTraffic.lastDay(now.getTime()), lastVerification: lastVerified, now }
    return show(reply, ctx, dashboardView(ctx, model))
  })

  async function search(request: FastifyRequest, limit: number): Promise<{ search: CertificateSearch; hits: CertificateHit[]; total: number }> {
    const query = parseOrBadRequest(adminSearchQuery, request.query ?? {})
    const search: CertificateSearch = { ...query, limit }
    const { hits, total } = await searchCertificates(db, search)
    return { search, hits, total }
  }

  app.get('/admin/search', async (request, reply) => {
    const ctx = await context(request, reply)
    const { search: s, hits, total } = await search(request, PAGE_SIZE)
    const users = s.q ? (await findUsers(db, { q: s.q, limit: 10, offset: 0 })).users : []
    return show(reply, ctx, searchView(ctx, { search: s, users, hits, total, query: filterQuery(request.query as Record<string, unknown>) }))
  })

  app.get('/admin/search.csv', async (request, reply) => {
    const { hits } = await search(request, CSV_ROWS)
    return sendCsv(reply, 'kagi-certificates', hitCsvColumns, hits)
  })

  const emailParam = emailField('email')

  async function showUser(request: FastifyRequest, reply: FastifyReply, email: string, extra: { outcome?: RevocationOutcome; error?: string } = {}, status = 200) {
    const detail = await userDetail(db, email)
    if (!detail) throw new ApiError('not_found', `no user ${email}`)
    const ctx = await context(request, reply)
    return show(reply, ctx, userView(ctx, { ...detail, ...extra }), status)
  }

  app.get<{ Params: { email: string } }>('/admin/users/:email', async (request, reply) => showUser(request, reply, parseOrBadRequest(emailParam, request.params.email)))

  app.post<{ Params: { email: string } }>('/admin/users/:email/revoke', { preValidation: app.csrfProtection }, async (request, reply) => {
    const email = parseOrBadRequest(emailParam, request.params.email)
    const form = parseOrBadRequest(adminRevokeForm('affiliationChanged'), request.body ?? {})
    if (form.confirm !== 'yes') return showUser(request, reply, email, { error: at(pageContext(request).lang, 'confirmNeeded') }, 400)
    const serials = await revokeUser(services, email, form.reason, actorOf(request), request.ip)
    request.log.info({ admin: request.user!.email, user: email, revoked: serials.length }, 'user offboarded')
    return showUser(request, reply, email, { outcome: await outcomeOf(serials) })
  })

  async function showDevice(request: FastifyRequest, reply: FastifyReply, id: string, extra: { outcome?: RevocationOutcome; error?: string } = {}, status = 200) {
    // deviceDetail answers undefined for anything that is not a device id (isDeviceId).
    const detail = await deviceDetail(db, id.toLowerCase())
    if (!detail) throw new ApiError('not_found', `no device ${id.slice(0, 64)}`)
    const ctx = await context(request, reply)
    return show(reply, ctx, deviceView(ctx, { ...detail, ...extra }), status)
  }

  app.get<{ Params: { id: string } }>('/admin/devices/:id', async (request, reply) => showDevice(request, reply, request.params.id))

  app.post<{ Params: { id: string } }>('/admin/devices/:id/revoke', { preValidation: app.csrfProtection }, async (request, reply) => {
    const form = parseOrBadRequest(adminRevokeForm('keyCompromise'), request.body ?? {})
    if (form.confirm !== 'yes') return showDevice(request, reply, request.params.id, { error: at(pageContext(request).lang, 'confirmNeeded') }, 400)
    const serials = await revokeDevice(services, request.params.id, form.reason, actorOf(request), request.ip)
    request.log.info({ admin: request.user!.email, deviceId: request.params.id, revoked: serials.length }, 'device revoked by an admin')
    return showDevice(request, reply, request.params.id, { outcome: await outcomeOf(serials) })
  })

  /** What OCSP and the CRL say once the revocations are published (the CRL is re-signed before this returns). */
  async function outcomeOf(serials: string[]): Promise<RevocationOutcome> {
    if (!serials.length) return { serials }
    const statuses = await Promise.all(serials.map((serial) => services.ocsp.statusOf(serial)))
    const crl = await services.crl.issuing.get()
    const listed = crl ? new Set(parseCrl(crl.der).entries.map((e) => e.serial)) : new Set<string>()
    return {
      serials,
      ocsp: [...new Set(statuses)].join(', '),
      crl: crl ? { number: crl.crlNumber, listed: serials.filter((s) => listed.has(s)).length } : undefined,
    }
  }

  function auditFilter(request: FastifyRequest, limit: number): AuditFilter {
    const { format: _format, limit: _limit, ...filter } = parseOrBadRequest(auditListQuery, request.query ?? {})
    return { ...filter, limit }
  }

  app.get('/admin/audit', async (request, reply) => {
    const ctx = await context(request, reply)
    const filter = auditFilter(request, PAGE_SIZE)
    const { events, total } = await listAudit(db, filter)
    return show(reply, ctx, auditView(ctx, { filter, events, total, query: filterQuery(request.query as Record<string, unknown>) }))
  })

  app.get('/admin/audit.csv', async (request, reply) => {
    const { events } = await listAudit(db, auditFilter(request, CSV_ROWS))
    return sendCsv(reply, 'kagi-audit', auditCsvColumns, events)
  })

  /** Runs a push (dry or not) and keeps what it prints for the page. */
  async function push(request: FastifyRequest, reply: FastifyReply, dryRun: boolean) {
    const ctx = await context(request, reply)
    let panos
    try {
      panos = loadPanosConfig(process.env).config
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      return show(reply, ctx, panosView(ctx, { state: 'not-configured', problems: error.message }))
    }
    const source = await panosPushSource(db, services.config.publicUrl)
    if (!source) throw new ApiError('not_found', 'no CA yet')
    const lines: string[] = []
    if (unreachableByFirewall(source.ocspUrl)) lines.push(`warning: the firewall will be told to ask ${source.ocspUrl} for OCSP, which it cannot reach: set KAGI_PUBLIC_URL`)
    const print = { out: (line: string) => lines.push(line), info: (line: string) => lines.push(line) }
    try {
      const report = await pushToPanos(source, panos, { dryRun, print })
      if (dryRun) return show(reply, ctx, panosView(ctx, { state: 'diff', lines, changes: report.changes.length, uncommitted: report.uncommitted.length }))
      await db
        .insertInto('audit_event')
        .values({ actor: actorOf(request), client_ip: request.ip, action: 'panos.pushed', serial: null, details: JSON.stringify({ firewall: new URL(panos.url).origin, applied: report.applied.length, commitJob: report.commit?.jobId ?? null }) })
        .execute()
      return show(reply, ctx, panosView(ctx, { state: 'pushed', lines, ok: true }))
    } catch (error) {
      if (!(error instanceof PanosError)) throw error
      lines.push(error.message)
      if (!dryRun) await db.insertInto('audit_event').values({ actor: actorOf(request), client_ip: request.ip, action: 'panos.push-failed', serial: null, details: JSON.stringify({ firewall: new URL(panos.url).origin, error: error.message.slice(0, 300) }) }).execute()
      return show(reply, ctx, panosView(ctx, { state: 'pushed', lines, ok: false }), 502)
    }
  }

  app.get('/admin/panos', async (request, reply) => push(request, reply, true))
  app.post('/admin/panos/push', { preValidation: app.csrfProtection }, async (request, reply) => push(request, reply, false))

  async function showTokens(request: FastifyRequest, reply: FastifyReply, extra: { created?: { name: string; token: string }; notice?: string; error?: string } = {}, status = 200) {
    const tokens = (await listTokens(db)).map((t) => ({
      id: t.id,
      name: t.name,
      role: t.role,
      createdAt: new Date(t.created_at),
      lastUsedAt: t.last_used_at ? new Date(t.last_used_at) : null,
      revokedAt: t.revoked_at ? new Date(t.revoked_at) : null,
    }))
    const ctx = await context(request, reply)
    return show(reply, ctx, tokensView(ctx, { tokens, ...extra }), status)
  }

  app.get('/admin/tokens', async (request, reply) => showTokens(request, reply))

  app.post('/admin/tokens', { preValidation: app.csrfProtection }, async (request, reply) => {
    const form = tokenForm.safeParse(request.body ?? {})
    if (!form.success) return showTokens(request, reply, { error: form.error.issues[0]!.message }, 400)
    let created
    try {
      created = await createToken(db, form.data.role, form.data.name)
    } catch (error) {
      if (error instanceof TokenNameInUseError) return showTokens(request, reply, { error: at(pageContext(request).lang, 'tokenNameInUse') }, 409)
      throw error
    }
    const { id, token } = created
    await db.insertInto('audit_event').values({ actor: actorOf(request), client_ip: request.ip, action: 'token.created', serial: null, details: JSON.stringify({ id, name: form.data.name, role: form.data.role }) }).execute()
    request.log.info({ admin: request.user!.email, tokenId: id, role: form.data.role }, 'API token created')
    return showTokens(request, reply, { created: { name: form.data.name, token } })
  })

  app.post<{ Params: { id: string } }>('/admin/tokens/:id/revoke', { preValidation: app.csrfProtection }, async (request, reply) => {
    const id = request.params.id
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw new ApiError('not_found', 'no such token')
    const revoked = await revokeToken(db, id)
    if (!revoked) throw new ApiError('not_found', 'no live token with this id')
    await db.insertInto('audit_event').values({ actor: actorOf(request), client_ip: request.ip, action: 'token.revoked', serial: null, details: JSON.stringify({ id }) }).execute()
    return showTokens(request, reply, { notice: at(pageContext(request).lang, 'tokenRevoked') })
  })
}
