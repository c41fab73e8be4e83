import { html, type Html } from '../html.js'
import { at } from './admin-i18n.js'
import { adminPage, moment, type AdminContext } from './layout.js'

export interface TokenRow {
  id: string
  name: string
  role: string
  createdAt: Date
  lastUsedAt: Date | null
  revokedAt: Date | null
}

/** GET /admin/tokens: the API tokens (never their values), create one (shown once), revoke. */
export function tokensView(ctx: AdminContext, model: { tokens: TokenRow[]; created?: { name: string; token: string }; notice?: string; error?: string }): Html {
  const l = ctx.lang
  const created = model.created
    ? html`<section class="card" aria-labelledby="new-token"><h3 id="new-token">${model.created.name}</h3><p>${at(l, 'tokenShownOnce')}</p><p><code class="password">${model.created.token}</code></p></section>`
    : html``
  const rows = html`<div class="scroll" tabindex="0" role="region" aria-label="${at(l, 'tokens')}"><table><thead><tr><th scope="col">${at(l, 'tokenName')}</th><th scope="col">${at(l, 'role')}</th><th scope="col">${at(l, 'created')}</th><th scope="col">${at(l, 'lastUsed')}</th><th scope="col">${at(l, 'status')}</th></tr></thead><tbody>${model.tokens.map(
    (t) =>
      html`<tr><td>${t.name}</td><td>${t.role}</td><td>${moment(t.createdAt)}</td><td>${moment(t.lastUsedAt)}</td><td>${t.revokedAt
        ? html`<span class="status-revoked">${at(l, 'revoked')}</span> ${moment(t.revokedAt)}`
        : html`<form method="post" action="/admin/tokens/${t.id}/revoke"><input type="hidden" name="_csrf" value="${ctx.csrf}"><button class="secondary" type="submit" aria-label="${at(l, 'revokeToken')} ${t.name}">${at(l, 'revokeToken')}</button></form>`}</td></tr>`,
  )}</tbody></table></div>`
  const form = html`<section class="card" aria-labelledby="create-token"><h3 id="create-token">${at(l, 'createToken')}</h3><form method="post" action="/admin/tokens"><input type="hidden" name="_csrf" value="${ctx.csrf}">
<div class="inline"><div><label for="token-name">${at(l, 'tokenName')}</label><input id="token-name" name="name" type="text" required maxlength="100" autocomplete="off"></div>
<div><label for="token-role">${at(l, 'role')}</label><select id="token-role" name="role"><option value="mdm">mdm</option><option value="admin">admin</option></select></div><div><button type="submit">${at(l, 'createToken')}</button></div></div></form></section>`
  return adminPage(
    ctx,
    at(l, 'tokens'),
    html`${model.error ? html`<p class="error" role="alert">${model.error}</p>` : html``}${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : html``}${created}${rows}${form}`,
  )
}
