import type { SessionUser } from '../../auth/session.js'
import { html, page, type Html, type PageContext } from '../html.js'
import { translate } from '../i18n.js'
import { vpnUse, type OcspFacts } from '../../revocation/last-seen.js'
import { at, type AdminKey } from './admin-i18n.js'

/** The console's sections, in the order of its navigation. */
const sections: readonly { path: string; key: AdminKey }[] = [
  { path: '/admin', key: 'dashboard' },
  { path: '/admin/search', key: 'search' },
  { path: '/admin/audit', key: 'audit' },
  { path: '/admin/tokens', key: 'tokens' },
  { path: '/admin/panos', key: 'panos' },
]

/** What every admin page needs: the page shell's context, the admin, and a CSRF token for its forms. */
export interface AdminContext extends PageContext {
  user: SessionUser
  csrf: string
}

/** An admin page: the enrollment page's look, the console's navigation, a sign-out button. */
export function adminPage(ctx: AdminContext, title: string, content: Html): Html {
  const current = sections.find((s) => s.path === ctx.path) ?? (ctx.path.startsWith('/admin/') ? undefined : sections[0])
  const nav = html`<nav class="tabs" aria-label="${at(ctx.lang, 'console')}">${sections.map(
    (s) => html`<a href="${s.path}"${s === current ? html` aria-current="page"` : html``}>${at(ctx.lang, s.key)}</a>`,
  )}<a href="/">${at(ctx.lang, 'backToPage')}</a></nav>`
  const signOut = html` <form method="post" action="/auth/logout"><input type="hidden" name="_csrf" value="${ctx.csrf}"><button class="secondary" type="submit">${translate(ctx.lang, 'signOut')}</button></form>`
  return page(ctx, `${title} · ${at(ctx.lang, 'console')}`, html`<div class="admin">${nav}<h2>${title}</h2>${content}</div>`, signOut)
}

/** 403 for anyone who is not an admin; never shows what the console holds. */
export function forbiddenView(ctx: PageContext, signedIn: boolean): Html {
  return page(
    ctx,
    at(ctx.lang, 'forbiddenTitle'),
    html`<h2>${at(ctx.lang, 'forbiddenTitle')}</h2><p class="error" role="alert">${signedIn ? at(ctx.lang, 'forbidden') : at(ctx.lang, 'signInFirst')}</p><p><a class="button" href="/">${at(ctx.lang, 'backToPage')}</a></p>`,
  )
}

/** A date as YYYY-MM-DD, or a dash. */
export const day = (d: Date | null | undefined): string => (d ? d.toISOString().slice(0, 10) : '–')
/** A moment as YYYY-MM-DD HH:MM UTC, or a dash. */
export const moment = (d: Date | null | undefined): string => (d ? `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '–')

/** A certificate's status in words and in a class (not colour alone: the word is there). */
export function statusCell(lang: PageContext['lang'], status: string, notAfter: Date): Html {
  const shown = status === 'revoked' ? 'revoked' : notAfter.getTime() <= Date.now() ? 'expired' : 'active'
  return html`<span class="status-${shown}">${at(lang, shown)}</span>`
}

/**
 * "Last seen by the VPN" in a cell: the last fresh OCSP check and how many
 * came, "never seen", or the "issued, never used" flag (a word, not colour
 * alone), whose title says what it likely means.
 */
export function vpnSeenCell(lang: PageContext['lang'], c: OcspFacts, now = new Date()): Html {
  const use = vpnUse(c, now)
  if (use.seen) return html`${moment(use.at)} <span class="muted">${at(lang, 'vpnChecks', { count: use.checks })}</span>`
  if (use.neverUsed) return html`<span class="status-revoked" title="${at(lang, 'neverUsedHint')}">⚠ ${at(lang, 'neverUsed')}</span>`
  return html`<span class="muted">${at(lang, 'neverSeen')}</span>`
}
