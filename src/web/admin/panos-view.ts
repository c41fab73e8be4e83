import { html, type Html } from '../html.js'
import { at } from './admin-i18n.js'
import { adminPage, type AdminContext } from './layout.js'

/** What the PAN-OS page shows: not configured (why), a dry run's difference, or a push's outcome. */
export type PanosModel =
  | { state: 'not-configured'; problems: string }
  | { state: 'diff'; lines: string[]; changes: number; uncommitted: number }
  | { state: 'pushed'; lines: string[]; ok: boolean }

/** GET /admin/panos and POST /admin/panos/push: `kagi panos push --dry-run` as a page, and a button that applies it. */
export function panosView(ctx: AdminContext, model: PanosModel): Html {
  const l = ctx.lang
  if (model.state === 'not-configured') {
    return adminPage(ctx, at(l, 'panos'), html`<p class="error" role="alert">${at(l, 'panosNotConfigured')}</p><pre>${model.problems}</pre>`)
  }
  const lines = html`<pre>${model.lines.join('\n')}</pre>`
  if (model.state === 'pushed') {
    return adminPage(ctx, at(l, 'panos'), html`<h3>${at(l, 'panosOutcome')}</h3><p class="${model.ok ? 'notice' : 'error'}" role="status">${model.lines.at(-1) ?? ''}</p>${lines}<p><a href="/admin/panos">${at(l, 'panosDiff')}</a></p>`)
  }
  const apply =
    model.changes || model.uncommitted
      ? html`<form method="post" action="/admin/panos/push"><input type="hidden" name="_csrf" value="${ctx.csrf}"><button type="submit">${at(l, 'panosApply')}</button></form>`
      : html`<p class="notice" role="status">${at(l, 'panosNothing')}</p>`
  return adminPage(ctx, at(l, 'panos'), html`<h3>${at(l, 'panosDiff')}</h3>${lines}${apply}`)
}
