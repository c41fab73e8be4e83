import { platforms } from '../../../enrollment/bundle-types.js'
import { enrollmentProfiles } from '../../../profiles/index.js'
import type { UserSummary } from '../../db/admin-queries.js'
import type { CertificateHit, CertificateSearch } from '../../db/certificate-search.js'
import { html, type Html } from '../html.js'
import { at } from './admin-i18n.js'
import { adminPage, day, statusCell, vpnSeenCell, type AdminContext } from './layout.js'

export interface SearchModel {
  search: CertificateSearch
  users: UserSummary[]
  hits: CertificateHit[]
  total: number
  /** The query string of this search (for paging and the CSV export), without `offset`. */
  query: string
}

const selected = (on: boolean) => (on ? html` selected` : html``)

/** GET /admin/search: the box, the filters, users who match, and the certificates that match, paginated. */
export function searchView(ctx: AdminContext, model: SearchModel): Html {
  const l = ctx.lang
  const s = model.search
  const form = html`<form method="get" action="/admin/search" role="search"><label for="q">${at(l, 'searchLabel')}</label><input id="q" name="q" type="text" value="${s.q ?? ''}" maxlength="254" autocomplete="off">
<div class="inline"><div><label for="status">${at(l, 'status')}</label><select id="status" name="status"><option value="">${at(l, 'any')}</option>${(['active', 'revoked', 'expired'] as const).map((v) => html`<option value="${v}"${selected(s.status === v)}>${at(l, v)}</option>`)}</select></div>
<div><label for="platform">${at(l, 'platform')}</label><select id="platform" name="platform"><option value="">${at(l, 'any')}</option>${platforms.map((p) => html`<option value="${p}"${selected(s.platform === p)}>${p}</option>`)}</select></div>
<div><label for="profile">${at(l, 'profile')}</label><select id="profile" name="profile"><option value="">${at(l, 'any')}</option>${enrollmentProfiles.map((p) => html`<option value="${p}"${selected(s.profile === p)}>${p}</option>`)}</select></div>
<div><label for="expiringWithinDays">${at(l, 'expiresWithin')}</label><input id="expiringWithinDays" name="expiringWithinDays" type="text" inputmode="numeric" pattern="[0-9]*" size="5" value="${s.expiringWithinDays ?? ''}"></div>
<div><button type="submit">${at(l, 'searchButton')}</button></div></div></form>`
  const users = model.users.length
    ? html`<h3>${at(l, 'users')}</h3><div class="scroll" tabindex="0" role="region" aria-label="${at(l, 'users')}"><table><thead><tr><th scope="col">${at(l, 'email')}</th><th scope="col">${at(l, 'displayName')}</th><th scope="col">${at(l, 'devices')}</th><th scope="col">${at(l, 'activeCertificates')}</th></tr></thead><tbody>${model.users.map(
        (u) => html`<tr><td><a href="/admin/users/${encodeURIComponent(u.email)}">${u.email}</a></td><td>${u.displayName ?? ''}</td><td>${u.devices}</td><td>${u.activeCertificates}</td></tr>`,
      )}</tbody></table></div>`
    : html``
  const from = model.total ? s.offset + 1 : 0
  const to = s.offset + model.hits.length
  const certificates = html`<h3>${at(l, 'certificates')}</h3>${model.hits.length
    ? html`<p class="muted">${at(l, 'showing', { from, to, total: model.total })} · <a href="/admin/search.csv?${model.query}">${at(l, 'exportCsv')}</a></p>
<div class="scroll" tabindex="0" role="region" aria-label="${at(l, 'certificates')}"><table><thead><tr><th scope="col">${at(l, 'serial')}</th><th scope="col">${at(l, 'user')}</th><th scope="col">${at(l, 'device')}</th><th scope="col">${at(l, 'profile')}</th><th scope="col">${at(l, 'status')}</th><th scope="col">${at(l, 'expires')}</th><th scope="col">${at(l, 'vpnSeen')}</th></tr></thead><tbody>${model.hits.map(
        (h) => html`<tr><td><code title="${h.serial}">${h.serial.slice(0, 12)}…</code></td><td><a href="/admin/users/${encodeURIComponent(h.user)}">${h.user}</a></td><td>${h.deviceId ? html`<a href="/admin/devices/${h.deviceId}">${h.deviceName}</a> <span class="muted">${h.platform}${h.hostname ? ` · ${h.hostname}` : ''}</span>` : '–'}</td><td>${h.profile}</td><td>${statusCell(l, h.status, h.notAfter)}</td><td>${day(h.notAfter)}</td><td>${vpnSeenCell(l, h)}</td></tr>`,
      )}</tbody></table></div>${pager(ctx, model)}`
    : html`<p>${at(l, 'none')}</p>`}`
  return adminPage(ctx, at(l, 'search'), html`${form}${users}${certificates}`)
}

function pager(ctx: AdminContext, model: SearchModel): Html {
  const { offset, limit } = model.search
  const link = (to: number, key: 'previous' | 'next') => html`<a href="/admin/search?${model.query}${model.query ? '&' : ''}offset=${to}" rel="${key === 'next' ? 'next' : 'prev'}">${at(ctx.lang, key)}</a>`
  return html`<nav class="inline" aria-label="pages">${offset > 0 ? link(Math.max(0, offset - limit), 'previous') : html``}${offset + limit < model.total ? link(offset + limit, 'next') : html``}</nav>`
}
