import { revocationReasons, type RevocationReason } from '../../../ca/index.js'
import type { AuditEntry, CertificateSummary, DeviceSummary, SignInRecord, UserSummary } from '../../db/admin-queries.js'
import { html, type Html } from '../html.js'
import type { Lang } from '../i18n.js'
import { at } from './admin-i18n.js'
import { adminPage, day, moment, statusCell, vpnSeenCell, type AdminContext } from './layout.js'

/** What the page says after a revocation: how many, and what OCSP and the CRL now answer. */
export interface RevocationOutcome {
  serials: string[]
  ocsp?: string
  crl?: { number: number; listed: number }
}

function certificateTable(l: Lang, certificates: CertificateSummary[], withDevice: boolean): Html {
  if (!certificates.length) return html`<p class="muted">${at(l, 'none')}</p>`
  return html`<div class="scroll" tabindex="0" role="region" aria-label="${at(l, 'certificates')}"><table><thead><tr><th scope="col">${at(l, 'serial')}</th>${withDevice ? html`<th scope="col">${at(l, 'device')}</th>` : html``}<th scope="col">${at(l, 'profile')}</th><th scope="col">${at(l, 'status')}</th><th scope="col">${at(l, 'expires')}</th><th scope="col">${at(l, 'vpnSeen')}</th><th scope="col">${at(l, 'reason')}</th></tr></thead><tbody>${certificates.map(
    (c) =>
      html`<tr><td><code title="${c.serial}">${c.serial.slice(0, 12)}…</code></td>${withDevice ? html`<td>${c.deviceId ? html`<a href="/admin/devices/${c.deviceId}">${c.deviceName}</a>` : '–'}</td>` : html``}<td>${c.profile}</td><td>${statusCell(l, c.status, c.notAfter)}</td><td>${day(c.notAfter)}</td><td>${vpnSeenCell(l, c)}</td><td>${c.revocationReason ?? ''}</td></tr>`,
  )}</tbody></table></div>`
}

function outcomeNotice(l: Lang, outcome: RevocationOutcome | undefined): Html {
  if (!outcome) return html``
  if (!outcome.serials.length) return html`<p class="notice" role="status">${at(l, 'nothingToRevoke')}</p>`
  return html`<p class="notice" role="status">${outcome.serials.length === 1 ? at(l, 'revokedOne') : at(l, 'revokedDone', { count: outcome.serials.length })}${outcome.ocsp ? html` ${at(l, 'ocspSays', { status: outcome.ocsp })}` : html``}${outcome.crl ? html` ${at(l, 'crlSays', { number: outcome.crl.number, count: outcome.crl.listed })}` : html``}</p>`
}

function reasonSelect(l: Lang, id: string, chosen: RevocationReason): Html {
  return html`<label for="${id}">${at(l, 'reason')}</label><select id="${id}" name="reason">${revocationReasons
    .filter((r) => r !== 'superseded')
    .map((r) => html`<option value="${r}"${r === chosen ? html` selected` : html``}>${r}</option>`)}</select>`
}

/** GET /admin/users/<email>: the user, devices, certificates, sign-ins, and "Revoke everything". */
export function userView(
  ctx: AdminContext,
  model: { user: UserSummary; devices: DeviceSummary[]; certificates: CertificateSummary[]; signIns: SignInRecord[]; outcome?: RevocationOutcome; error?: string },
): Html {
  const l = ctx.lang
  const u = model.user
  const devices = model.devices.length
    ? html`<div class="scroll" tabindex="0" role="region" aria-label="${at(l, 'devices')}"><table><thead><tr><th scope="col">${at(l, 'device')}</th><th scope="col">${at(l, 'platform')}</th><th scope="col">${at(l, 'hostname')}</th><th scope="col">${at(l, 'serialNumber')}</th><th scope="col">${at(l, 'activeCertificates')}</th></tr></thead><tbody>${model.devices.map(
        (d) => html`<tr><td><a href="/admin/devices/${d.id}">${d.name}</a></td><td>${d.platform}</td><td>${d.hostname ?? ''}</td><td>${d.serialNumber ?? ''}</td><td>${d.activeCertificates}</td></tr>`,
      )}</tbody></table></div>`
    : html`<p class="muted">${at(l, 'none')}</p>`
  const signIns = model.signIns.length
    ? html`<div class="scroll" tabindex="0" role="region" aria-label="${at(l, 'signIns')}"><table><thead><tr><th scope="col">${at(l, 'when')}</th><th scope="col">${at(l, 'via')}</th><th scope="col">${at(l, 'address')}</th><th scope="col">${at(l, 'lastSeen')}</th><th scope="col">${at(l, 'ended')}</th></tr></thead><tbody>${model.signIns.map(
        (s) => html`<tr><td>${moment(s.createdAt)}</td><td>${s.via}</td><td>${s.ip ?? ''}</td><td>${moment(s.lastSeenAt)}</td><td>${s.endedAt ? `${moment(s.endedAt)} (${s.endReason ?? ''})` : at(l, 'open')}</td></tr>`,
      )}</tbody></table></div>`
    : html`<p class="muted">${at(l, 'none')}</p>`
  const revoke = html`<section class="card" aria-labelledby="revoke-all"><h3 id="revoke-all">${at(l, 'revokeEverything')}</h3><p>${at(l, 'revokeEverythingHint')}</p>
<form method="post" action="/admin/users/${encodeURIComponent(u.email)}/revoke"><input type="hidden" name="_csrf" value="${ctx.csrf}">${reasonSelect(l, 'user-reason', 'affiliationChanged')}
<label class="choice"><input type="checkbox" name="confirm" value="yes" required> ${at(l, 'confirmUser', { email: u.email })}</label><button class="danger" type="submit">${at(l, 'revokeEverything')}</button></form></section>`
  return adminPage(
    ctx,
    `${at(l, 'user')}: ${u.email}`,
    html`${model.error ? html`<p class="error" role="alert">${model.error}</p>` : html``}${outcomeNotice(l, model.outcome)}
<table><tbody><tr><th scope="row">${at(l, 'displayName')}</th><td>${u.displayName ?? ''}</td></tr><tr><th scope="row">${at(l, 'since')}</th><td>${day(u.createdAt)}</td></tr><tr><th scope="row">${at(l, 'activeCertificates')}</th><td>${u.activeCertificates}</td></tr></tbody></table>
<h3>${at(l, 'devices')}</h3>${devices}<h3>${at(l, 'certificates')}</h3>${certificateTable(l, model.certificates, true)}<h3>${at(l, 'signIns')}</h3>${signIns}${revoke}`,
  )
}

/** GET /admin/devices/<id>: the device, its certificates, its history, and "Revoke this device". */
export function deviceView(ctx: AdminContext, model: { device: DeviceSummary; certificates: CertificateSummary[]; history: AuditEntry[]; outcome?: RevocationOutcome; error?: string }): Html {
  const l = ctx.lang
  const d = model.device
  const history = model.history.length
    ? html`<div class="scroll" tabindex="0" role="region" aria-label="${at(l, 'history')}"><table><thead><tr><th scope="col">${at(l, 'when')}</th><th scope="col">${at(l, 'action')}</th><th scope="col">${at(l, 'actor')}</th><th scope="col">${at(l, 'serial')}</th></tr></thead><tbody>${model.history.map(
        (e) => html`<tr><td>${moment(e.at)}</td><td>${e.action}</td><td>${e.actor}</td><td>${e.serial ? html`<code title="${e.serial}">${e.serial.slice(0, 12)}…</code>` : ''}</td></tr>`,
      )}</tbody></table></div>`
    : html`<p class="muted">${at(l, 'none')}</p>`
  const revoke = html`<section class="card" aria-labelledby="revoke-device"><h3 id="revoke-device">${at(l, 'revokeDevice')}</h3>
<form method="post" action="/admin/devices/${d.id}/revoke"><input type="hidden" name="_csrf" value="${ctx.csrf}">${reasonSelect(l, 'device-reason', 'keyCompromise')}
<label class="choice"><input type="checkbox" name="confirm" value="yes" required> ${at(l, 'confirmDevice')}</label><button class="danger" type="submit">${at(l, 'revokeDevice')}</button></form></section>`
  return adminPage(
    ctx,
    `${at(l, 'device')}: ${d.name}`,
    html`${model.error ? html`<p class="error" role="alert">${model.error}</p>` : html``}${outcomeNotice(l, model.outcome)}
<table><tbody><tr><th scope="row">${at(l, 'owner')}</th><td><a href="/admin/users/${encodeURIComponent(d.user)}">${d.displayName ? `${d.displayName} <${d.user}>` : d.user}</a></td></tr><tr><th scope="row">${at(l, 'platform')}</th><td>${d.platform}</td></tr><tr><th scope="row">${at(l, 'hostname')}</th><td>${d.hostname ?? ''}</td></tr><tr><th scope="row">${at(l, 'serialNumber')}</th><td>${d.serialNumber ?? ''}</td></tr></tbody></table>
<h3>${at(l, 'certificates')}</h3>${certificateTable(l, model.certificates, false)}${d.activeCertificates ? revoke : html``}<h3>${at(l, 'history')}</h3>${history}`,
  )
}
