import { bundleInstructions } from '../../enrollment/instructions.js'
import type { SessionUser } from '../auth/session.js'
import type { Platform } from '../../enrollment/bundle-types.js'
import type { EnrollmentProfile } from '../../profiles/index.js'
import { platforms } from '../../enrollment/bundle-types.js'
import type { DeviceWithCertificates } from '../db/device-repository.js'
import { html, page, type Html, type PageContext } from './html.js'
import { translate, type MessageKey } from './i18n.js'
import { platformNames } from './platform.js'

/** How the sign-in page offers sign-in. */
export type SignInMode = 'saml' | 'development' | 'none'

const t = (ctx: PageContext, key: MessageKey, params?: Record<string, string | number>): string => translate(ctx.lang, key, params)

function notice(ctx: PageContext, text: string | undefined, kind: 'notice' | 'error' = 'notice'): Html {
  return text ? html`<p class="${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</p>` : html``
}

/** The page before sign-in. */
export function signInView(ctx: PageContext, mode: SignInMode, csrf: string, message?: string): Html {
  const body =
    mode === 'saml'
      ? html`<p><a class="button" href="/auth/saml/login">${t(ctx, 'signIn')}</a></p><p class="muted">${t(ctx, 'signInHint')}</p>`
      : mode === 'development'
        ? html`<section class="card dev" aria-labelledby="dev"><h2 id="dev">${t(ctx, 'devSignInTitle')}</h2><p>${t(ctx, 'devSignInWarning')}</p>
<form method="post" action="/auth/dev-login"><input type="hidden" name="_csrf" value="${csrf}">
<label for="email">${t(ctx, 'email')}</label><input id="email" name="email" type="email" required autocomplete="email" placeholder="alice@example.com">
<label class="choice"><input type="checkbox" name="admin" value="yes"> ${t(ctx, 'makeAdmin')}</label>
<button type="submit">${t(ctx, 'signInButton')}</button></form></section>`
        : html`<p class="error" role="alert">${t(ctx, 'notConfigured')}</p>`
  return page(ctx, t(ctx, 'title'), html`<p>${t(ctx, 'tagline')}</p>${notice(ctx, message)}${body}`)
}

/** A refused sign-in (or, with `title` errorTitle, any refused request): the reason, and the way back. */
export function signInFailedView(ctx: PageContext, reason: string, title: MessageKey = 'signInFailed'): Html {
  return page(
    ctx,
    t(ctx, title),
    html`<h2>${t(ctx, title)}</h2><p class="error" role="alert">${reason}</p><p>${t(ctx, 'signInFailedHelp')}</p><p><a class="button" href="/">${t(ctx, 'tryAgain')}</a></p>`,
  )
}

/** Any refused or failed request a browser made: what happened, in the page's language, and the way back. */
export function errorView(ctx: PageContext, message: string): Html {
  return page(
    ctx,
    t(ctx, 'errorTitle'),
    html`<h2>${t(ctx, 'errorTitle')}</h2><p class="error" role="alert">${message}</p><p>${t(ctx, 'signInFailedHelp')}</p><p><a class="button" href="/">${t(ctx, 'goHome')}</a></p>`,
  )
}

/** Values of the enrollment form (kept when it is shown again with an error). */
export interface EnrollFormValues {
  platform?: Platform
  deviceName?: string
  kind?: EnrollmentProfile
  hostname?: string
}

/** Everything the signed-in page shows. */
export interface HomeModel {
  user: SessionUser
  csrf: string
  detected?: Platform
  devices: DeviceWithCertificates[]
  notice?: string
  error?: string
  form?: EnrollFormValues
  /** KAGI_GP_PORTAL and KAGI_CA_NAME, named in the steps. */
  portal?: string
  organization: string
}

function userHeader(ctx: PageContext, model: { user: SessionUser; csrf: string }): Html {
  return html` <form method="post" action="/auth/logout"><input type="hidden" name="_csrf" value="${model.csrf}"><button class="secondary" type="submit">${t(ctx, 'signOut')}</button></form>`
}

function enrollForm(ctx: PageContext, model: HomeModel): Html {
  const form = model.form ?? {}
  const selected = form.platform ?? model.detected
  const kind = form.kind ?? 'user'
  return html`<section class="card" aria-labelledby="enroll"><h2 id="enroll">${t(ctx, 'enrollTitle')}</h2>${notice(ctx, model.error, 'error')}
<form method="post" action="/enroll" id="enroll-form"><input type="hidden" name="_csrf" value="${model.csrf}">
<label for="platform">${t(ctx, 'platform')}</label><select id="platform" name="platform" required>${platforms.map(
    (p) => html`<option value="${p}"${selected === p ? html` selected` : html``}>${platformNames[p]}${model.detected === p ? ` (${t(ctx, 'detected')})` : ''}</option>`,
  )}</select>
<label for="deviceName">${t(ctx, 'deviceName')}</label><p class="hint" id="deviceNameHint">${t(ctx, 'deviceNameHint')}</p>
<input id="deviceName" name="deviceName" type="text" required maxlength="64" aria-describedby="deviceNameHint" value="${form.deviceName ?? ''}">
<fieldset class="choice-group"><legend>${t(ctx, 'certificateType')}</legend>
<label class="choice"><input type="radio" name="kind" value="user"${kind === 'user' ? html` checked` : html``}> ${t(ctx, 'typeUser')}</label>
<label class="choice"><input type="radio" name="kind" value="device"${kind === 'device' ? html` checked` : html``}> ${t(ctx, 'typeDevice')}</label></fieldset>
<label for="hostname">${t(ctx, 'hostname')}</label><p class="hint" id="hostnameHint">${t(ctx, 'hostnameHint')}</p>
<input id="hostname" name="hostname" type="text" maxlength="253" autocomplete="off" aria-describedby="hostnameHint" value="${form.hostname ?? ''}">
<button type="submit">${t(ctx, 'enrollButton')}</button></form>
<script nonce="${ctx.nonce}">// iPadOS Safari presents itself as a Mac: touch support tells them apart.
if(navigator.maxTouchPoints>1&&/Macintosh/.test(navigator.userAgent)){var s=document.getElementById('platform');if(s&&s.value==='macos')s.value='ios'}</script></section>`
}

function certificateStatus(ctx: PageContext, status: string, notAfter: Date): string {
  if (status === 'revoked') return t(ctx, 'revoked')
  return notAfter.getTime() <= Date.now() ? t(ctx, 'expired') : t(ctx, 'active')
}

function deviceList(ctx: PageContext, model: HomeModel): Html {
  if (model.devices.length === 0) return html`<p class="muted">${t(ctx, 'noDevices')}</p>`
  return html`${model.devices.map(
    (device) => html`<section class="card" aria-label="${device.name}"><h3>${device.name} <span class="muted">· ${platformNames[device.platform]}${device.hostname ? ` · ${device.hostname}` : ''}</span></h3>
<table><thead><tr><th scope="col">${t(ctx, 'serial')}</th><th scope="col">${t(ctx, 'certificateType')}</th><th scope="col">${t(ctx, 'status')}</th><th scope="col">${t(ctx, 'expires')}</th></tr></thead><tbody>
${device.certificates.map(
  (c) => html`<tr><td><code title="${c.serial}">${c.serial.slice(0, 12)}…</code></td><td>${c.profile}</td><td>${certificateStatus(ctx, c.status, c.notAfter)}</td><td>${c.notAfter.toISOString().slice(0, 10)}</td></tr>`,
)}</tbody></table>
<form method="post" action="/devices/${device.id}/renew"><input type="hidden" name="_csrf" value="${model.csrf}"><input type="hidden" name="kind" value="${device.certificates[0]?.profile === 'device' ? 'device' : 'user'}"><button class="secondary" type="submit">${t(ctx, 'downloadAgain')}</button> <span class="muted">${t(ctx, 'downloadAgainHint')}</span></form>
${device.certificates.some((c) => c.status === 'active')
  ? html`<details><summary>${t(ctx, 'lostTitle')}</summary><form method="post" action="/devices/${device.id}/lost"><input type="hidden" name="_csrf" value="${model.csrf}">
<label class="choice"><input type="checkbox" name="confirm" value="yes" required> ${t(ctx, 'lostConfirm')}</label><button class="danger" type="submit">${t(ctx, 'lostButton')}</button></form></details>`
  : html``}</section>`,
  )}`
}

function allInstructions(ctx: PageContext, model: HomeModel): Html {
  const detected = model.detected
  return html`<h2>${t(ctx, 'instructionsTitle')}</h2>${platforms.map(
    (p) => html`<details${p === detected ? html` open` : html``}><summary>${platformNames[p]}</summary><ol>${bundleInstructions(p, 'user', ctx.lang, { portal: model.portal, organization: model.organization }).map((step) => html`<li>${step}</li>`)}</ol></details>`,
  )}`
}

/** The signed-in page: who you are, enroll this device, your devices, instructions. */
export function homeView(ctx: PageContext, model: HomeModel): Html {
  const who = model.user.name ? `${model.user.name} <${model.user.email}>` : model.user.email
  return page(
    ctx,
    t(ctx, 'title'),
    html`<p>${t(ctx, 'signedInAs')} <strong>${who}</strong>${model.user.via === 'development' ? html` <span class="muted">(${t(ctx, 'devSignInTitle')})</span>` : html``}${model.user.admin ? html` · <a href="/admin">${t(ctx, 'adminLink')}</a>` : html``}</p>
${notice(ctx, model.notice)}${enrollForm(ctx, model)}
<h2>${t(ctx, 'devicesTitle')}</h2>${deviceList(ctx, model)}${model.portal ? html`` : html`<p class="muted">${t(ctx, 'noPortal')}</p>`}${allInstructions(ctx, model)}`,
    userHeader(ctx, model),
  )
}

/** After enrollment: the download (a data: link the page clicks itself), the one-time password where needed, the steps. */
export function readyView(
  ctx: PageContext,
  model: { user: SessionUser; csrf: string; platform: Platform; kind: EnrollmentProfile; filename: string; contentType: string; body: Buffer; pkcs12Password?: string; portal?: string; organization: string },
): Html {
  const href = `data:${model.contentType};base64,${model.body.toString('base64')}`
  return page(
    ctx,
    t(ctx, 'readyTitle'),
    html`<h2>${t(ctx, 'readyTitle')}</h2><p><a class="button" id="download" href="${href}" download="${model.filename}">${t(ctx, 'readyDownload', { file: model.filename })}</a></p>
<p class="muted">${t(ctx, 'readyAuto')}</p>
${model.pkcs12Password ? html`<p>${t(ctx, 'passwordLabel')}<br><span class="password" id="pkcs12-password">${model.pkcs12Password}</span></p>` : html``}
<h2>${t(ctx, 'installTitle')}: ${platformNames[model.platform]}</h2><ol>${bundleInstructions(model.platform, model.kind, ctx.lang, { portal: model.portal, filename: model.filename, organization: model.organization }).map((step) => html`<li>${step}</li>`)}</ol>
<p><a href="/">${t(ctx, 'back')}</a></p>
<script nonce="${ctx.nonce}">document.getElementById('download').click()</script>`,
    userHeader(ctx, model),
  )
}
