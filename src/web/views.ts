import type { SessionUser } from '../auth/session.js'
import type { Platform } from '../../enrollment/bundle-types.js'
import type { InstructionOptions } from '../../enrollment/instructions.js'
import type { EnrollmentProfile } from '../../profiles/index.js'
import { platforms } from '../../enrollment/bundle-types.js'
import type { DeviceWithCertificates } from '../db/device-repository.js'
import { deviceList } from './device-list.js'
import { Html, html, page, type PageContext } from './html.js'
import { translate, type MessageKey } from './i18n.js'
import { offersMachineCertificate, platformNames } from './platform.js'
import { forgetReadyScript } from './ready-storage.js'
import { stepList } from './steps-view.js'

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
  const forget = html`<script nonce="${ctx.nonce}">${new Html(forgetReadyScript)}</script>`
  return page(ctx, t(ctx, 'title'), html`<p>${t(ctx, 'tagline')}</p>${notice(ctx, message)}${body}${forget}`)
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
  /** What the steps name: KAGI_GP_PORTAL, KAGI_CA_NAME and where the CA certificates are. */
  steps: InstructionOptions
  /** Platforms the form offers a machine certificate for (platform.ts machinePlatforms). */
  machinePlatforms: readonly Platform[]
}

/** The header's sign-out button. */
export function userHeader(ctx: PageContext, model: { user: SessionUser; csrf: string }): Html {
  return html` <form method="post" action="/auth/logout"><input type="hidden" name="_csrf" value="${model.csrf}"><button class="secondary sign-out" type="submit">${t(ctx, 'signOut')}</button></form>`
}

// Machine certificates and host names only where the selected platform can use them (see machinePlatforms);
// the script follows the platform select, and the server refuses a machine certificate elsewhere.
const machineScript = (offered: readonly Platform[]): string => `var p=document.getElementById('platform'),m=document.getElementById('machine'),machine=${JSON.stringify(offered)};
function follow(){var on=machine.indexOf(p.value)>=0;m.hidden=!on;if(!on)document.getElementById('kind-user').checked=true}
if(p&&m){p.addEventListener('change',follow);follow()}`

function enrollForm(ctx: PageContext, model: HomeModel): Html {
  const form = model.form ?? {}
  const selected = form.platform ?? model.detected ?? platforms[0]
  const machine = offersMachineCertificate(selected, model.machinePlatforms)
  const kind = machine ? (form.kind ?? 'user') : 'user'
  return html`<section class="card" aria-labelledby="enroll"><h2 id="enroll">${t(ctx, 'enrollTitle')}</h2>${notice(ctx, model.error, 'error')}
<form method="post" action="/enroll" id="enroll-form"><input type="hidden" name="_csrf" value="${model.csrf}">
<label for="platform">${t(ctx, 'platform')}</label><select id="platform" name="platform" required>${platforms.map(
    (p) => html`<option value="${p}"${selected === p ? html` selected` : html``}>${platformNames[p]}${model.detected === p ? ` (${t(ctx, 'detected')})` : ''}</option>`,
  )}</select>
<label for="deviceName">${t(ctx, 'deviceName')}</label><p class="hint" id="deviceNameHint">${t(ctx, 'deviceNameHint')}</p>
<input id="deviceName" name="deviceName" type="text" required maxlength="64" aria-describedby="deviceNameHint" value="${form.deviceName ?? ''}">
<div id="machine"${machine ? html`` : html` hidden`}><fieldset class="choice-group"><legend>${t(ctx, 'certificateType')}</legend><p class="hint">${t(ctx, 'machineOptionsHint')}</p>
<label class="choice"><input type="radio" name="kind" value="user" id="kind-user"${kind === 'user' ? html` checked` : html``}> ${t(ctx, 'typeUser')}</label>
<label class="choice"><input type="radio" name="kind" value="device"${kind === 'device' ? html` checked` : html``}> ${t(ctx, 'typeDevice')}</label></fieldset>
<label for="hostname">${t(ctx, 'hostname')}</label><p class="hint" id="hostnameHint">${t(ctx, 'hostnameHint')}</p>
<input id="hostname" name="hostname" type="text" maxlength="253" autocomplete="off" aria-describedby="hostnameHint" value="${form.hostname ?? ''}"></div>
<button type="submit">${t(ctx, 'enrollButton')}</button></form>
<script nonce="${ctx.nonce}">// iPadOS Safari presents itself as a Mac: touch support tells them apart.
if(navigator.maxTouchPoints>1&&/Macintosh/.test(navigator.userAgent)){var s=document.getElementById('platform');if(s&&s.value==='macos')s.value='ios'}
${new Html(machineScript(model.machinePlatforms))}</script></section>`
}

function allInstructions(ctx: PageContext, model: HomeModel): Html {
  return html`<h2>${t(ctx, 'instructionsTitle')}</h2>${platforms.map(
    (p) => html`<details${p === model.detected ? html` open` : html``}><summary>${platformNames[p]}</summary>${stepList(ctx, p, 'user', model.steps)}</details>`,
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
<h2>${t(ctx, 'devicesTitle')}</h2>${deviceList(ctx, model.devices, model.csrf)}${model.steps.portal ? html`` : html`<p class="muted">${t(ctx, 'noPortal')}</p>`}${allInstructions(ctx, model)}`,
    userHeader(ctx, model),
  )
}
