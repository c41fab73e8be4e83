import type { Platform } from '../../enrollment/bundle-types.js'
import type { InstructionOptions } from '../../enrollment/instructions.js'
import type { EnrollmentProfile } from '../../profiles/index.js'
import { Html, html, page, type PageContext } from './html.js'
import { translate } from './i18n.js'
import { platformNames } from './platform.js'
import { READY_STORAGE_KEY } from './ready-storage.js'
import { stepList } from './steps-view.js'
import { userHeader } from './views.js'
import type { SessionUser } from '../auth/session.js'

/** Where the download page lives once it has been shown: reloading it, Back and the language switch land here. */
export const READY_PATH = '/enroll'

/**
 * What the session keeps of the last enrollment, to render its download page
 * again: never the bundle or the password. Those stay in the browser tab
 * that enrolled (sessionStorage), so kagi still holds no private key after
 * the response, and a private key never sits in a cookie.
 */
export interface ReadyRecord {
  serial: string
  platform: Platform
  kind: EnrollmentProfile
  filename: string
  /** Whether the page has a one-time PKCS#12 password to show (Android). */
  password: boolean
}

declare module '@fastify/secure-session' {
  interface SessionData {
    /** The last enrollment's download page (see {@link ReadyRecord}). */
    ready: ReadyRecord
  }
}

/** The download page's model; `bundle` only in the answer to the enrollment itself. */
export interface ReadyModel extends ReadyRecord {
  user: SessionUser
  csrf: string
  bundle?: { contentType: string; body: Buffer; pkcs12Password?: string }
  steps: InstructionOptions
}

// On the enrollment's own answer the script keeps the download and the password in this tab's
// sessionStorage, turns the history entry into GET /enroll (so reload, Back and a discarded Android
// tab ask for a page, not a form resubmission) and starts the download. On GET /enroll it puts them
// back, or leaves the "no longer here" message. The sign-in page clears it (ready-storage.ts).
const script = `(function(){var key='${READY_STORAGE_KEY}',root=document.getElementById('ready'),serial=root.getAttribute('data-serial'),link=document.getElementById('download'),pw=document.getElementById('pkcs12-password');
if(link.hasAttribute('href')){try{sessionStorage.setItem(key,JSON.stringify({serial:serial,href:link.getAttribute('href'),password:pw?pw.textContent:''}));history.replaceState(null,'','${READY_PATH}')}catch(e){}link.click();return}
var saved;try{saved=JSON.parse(sessionStorage.getItem(key)||'null')}catch(e){}
if(!saved||saved.serial!==serial)return;link.setAttribute('href',saved.href);if(pw)pw.textContent=saved.password;document.getElementById('bundle').hidden=false;document.getElementById('ready-gone').hidden=true})()`

/** The page after an enrollment: the download (a data: link the page clicks itself), the one-time password where needed, the steps. */
export function readyView(ctx: PageContext, model: ReadyModel): Html {
  const t = (key: Parameters<typeof translate>[1], params?: Record<string, string>) => translate(ctx.lang, key, params)
  const fresh = model.bundle !== undefined
  const href = model.bundle && `data:${model.bundle.contentType};base64,${model.bundle.body.toString('base64')}`
  return page(
    ctx,
    t('readyTitle'),
    html`<div id="ready" data-serial="${model.serial}"><h2>${t('readyTitle')}</h2>
<div id="bundle"${fresh ? html`` : html` hidden`}><p><a class="button" id="download"${href ? html` href="${href}"` : html``} download="${model.filename}">${t('readyDownload', { file: model.filename })}</a></p>
${fresh ? html`<p class="muted">${t('readyAuto')}</p>` : html``}
${model.password ? html`<p>${t('passwordLabel')}<br><span class="password" id="pkcs12-password">${model.bundle?.pkcs12Password ?? ''}</span></p>` : html``}
<p class="muted">${t('readyKept')}</p></div>
<p class="error" id="ready-gone"${fresh ? html` hidden` : html``}>${t('readyGone')}</p>
<h2>${t('installTitle')}: ${platformNames[model.platform]}</h2>${stepList(ctx, model.platform, model.kind, { ...model.steps, filename: model.filename })}
<p><a href="/">${t('back')}</a></p></div>
<script nonce="${ctx.nonce}">${new Html(script)}</script>`,
    userHeader(ctx, model),
  )
}
