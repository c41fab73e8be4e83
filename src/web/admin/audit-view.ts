import type { AuditEntry, AuditFilter } from '../../db/admin-queries.js'
import { html, type Html } from '../html.js'
import { at } from './admin-i18n.js'
import { adminPage, moment, type AdminContext } from './layout.js'

/** GET /admin/audit: the log, newest first, filtered by type, actor, user, device and time; CSV of the same. */
export function auditView(ctx: AdminContext, model: { filter: AuditFilter; events: AuditEntry[]; total: number; query: string }): Html {
  const l = ctx.lang
  const f = model.filter
  const field = (name: string, label: string, value: string | undefined, hint = '') =>
    html`<div><label for="${name}">${label}</label><input id="${name}" name="${name}" type="text" value="${value ?? ''}" maxlength="254" autocomplete="off"${hint ? html` placeholder="${hint}"` : html``}></div>`
  const form = html`<form method="get" action="/admin/audit"><div class="inline">${field('type', at(l, 'type'), f.type)}${field('actor', at(l, 'actor'), f.actor)}${field('user', at(l, 'user'), f.user)}${field('device', at(l, 'device'), f.device)}${field('since', at(l, 'since'), f.since?.toISOString().slice(0, 10), 'YYYY-MM-DD')}${field('until', at(l, 'until'), f.until?.toISOString().slice(0, 10), 'YYYY-MM-DD')}<div><button type="submit">${at(l, 'filter')}</button></div></div></form>`
  const from = model.total ? f.offset + 1 : 0
  const rows = model.events.length
    ? html`<p class="muted">${at(l, 'showing', { from, to: f.offset + model.events.length, total: model.total })} · <a href="/admin/audit.csv?${model.query}">${at(l, 'exportCsv')}</a></p>
<div class="scroll" tabindex="0" role="region" aria-label="${at(l, 'audit')}"><table><thead><tr><th scope="col">${at(l, 'when')}</th><th scope="col">${at(l, 'action')}</th><th scope="col">${at(l, 'actor')}</th><th scope="col">${at(l, 'serial')}</th><th scope="col">${at(l, 'details')}</th></tr></thead><tbody>${model.events.map(
        (e) => html`<tr><td>${moment(e.at)}</td><td>${e.action}</td><td>${e.actor}</td><td>${e.serial ? html`<code title="${e.serial}">${e.serial.slice(0, 12)}…</code>` : ''}</td><td><code>${JSON.stringify(e.details).slice(0, 200)}</code></td></tr>`,
      )}</tbody></table></div>
<nav class="inline" aria-label="pages">${f.offset > 0 ? html`<a rel="prev" href="/admin/audit?${model.query}${model.query ? '&' : ''}offset=${Math.max(0, f.offset - f.limit)}">${at(l, 'previous')}</a>` : html``}${f.offset + f.limit < model.total ? html`<a rel="next" href="/admin/audit?${model.query}${model.query ? '&' : ''}offset=${f.offset + f.limit}">${at(l, 'next')}</a>` : html``}</nav>`
    : html`<p>${at(l, 'none')}</p>`
  return adminPage(ctx, at(l, 'audit'), html`${form}${rows}`)
}
