import type { DashboardStats } from '../../db/dashboard-stats.js'
import { html, type Html } from '../html.js'
import { at } from './admin-i18n.js'
import { barChart } from './charts.js'
import { adminPage, moment, type AdminContext } from './layout.js'

/** What the dashboard shows besides the database's numbers. */
export interface DashboardModel {
  stats: DashboardStats
  ocspPerHour: { hour: Date; count: number }[]
  /** When the audit log was last verified, and whether it was intact. */
  lastVerification?: { at: Date; ok: boolean; summary: string }
  now: Date
}

/** GET /admin: issuance and revocation per day, active by platform and profile, expiring, CRLs, OCSP traffic. */
export function dashboardView(ctx: AdminContext, model: DashboardModel): Html {
  const l = ctx.lang
  const { stats } = model
  const perDay = barChart({
    id: 'per-day',
    title: at(l, 'issuedRevokedChart'),
    categories: stats.perDay.map((d) => d.day.slice(5)),
    categoryHeader: at(l, 'day'),
    series: [
      { name: at(l, 'issued'), className: 'bar-issued', values: stats.perDay.map((d) => d.issued) },
      { name: at(l, 'revokedCount'), className: 'bar-revoked', values: stats.perDay.map((d) => d.revoked) },
    ],
    labelEvery: 15,
  })
  const active = barChart({
    id: 'active-by',
    title: at(l, 'activeByPlatform'),
    categories: stats.activeBy.map((a) => `${a.platform} · ${a.profile}`),
    categoryHeader: `${at(l, 'platform')} · ${at(l, 'profile')}`,
    series: [{ name: at(l, 'activeCertificates'), className: 'bar-active', values: stats.activeBy.map((a) => a.count) }],
  })
  const ocsp = barChart({
    id: 'ocsp',
    title: at(l, 'ocspPerHour'),
    categories: model.ocspPerHour.map((h) => h.hour.toISOString().slice(11, 13)),
    categoryHeader: at(l, 'hour'),
    series: [{ name: at(l, 'requests'), className: 'bar-issued', values: model.ocspPerHour.map((h) => h.count) }],
    labelEvery: 3,
  })
  const expiring = html`<section class="card" aria-labelledby="expiring"><h3 id="expiring">${at(l, 'expiring')}</h3><table><tbody>${stats.expiring.map(
    (e) => html`<tr><th scope="row">${at(l, 'within', { days: e.days })}</th><td><a href="/admin/search?expiringWithinDays=${e.days}">${e.count}</a></td></tr>`,
  )}</tbody></table></section>`
  const crls = html`<section class="card" aria-labelledby="crls"><h3 id="crls">${at(l, 'crl')}</h3><table><tbody>${stats.crls.map(
    (c) =>
      html`<tr><th scope="row"><code>${c.caSerial.slice(0, 12)}…</code></th><td>${at(l, 'crlNumber')} ${c.number}</td><td>${c.entries} ${at(l, 'crlEntries')} · ${Math.ceil(c.bytes / 1024)} KB</td><td>${at(l, 'crlAge', { minutes: Math.max(0, Math.round((model.now.getTime() - c.thisUpdate.getTime()) / 60_000)) })}</td></tr>`,
  )}</tbody></table></section>`
  const verified = model.lastVerification
  const audit = html`<section class="card" aria-labelledby="verified"><h3 id="verified">${at(l, 'lastVerification')}</h3><p>${verified ? html`<span class="${verified.ok ? 'status-active' : 'status-revoked'}">${verified.summary}</span> · ${moment(verified.at)}` : at(l, 'never')}</p></section>`
  return adminPage(ctx, at(l, 'dashboard'), html`${perDay}<div class="grid">${expiring}${crls}${audit}</div>${active}${ocsp}`)
}
