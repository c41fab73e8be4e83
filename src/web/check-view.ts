import type { Platform } from '../db/database.js'
import type { CheckOutcome, CheckedCertificate } from './check-certificate.js'
import { checkText, whereKey, type CheckMessageKey } from './check-messages.js'
import { formatDate } from './device-list.js'
import { html, page, type Html, type PageContext } from './html.js'
import { platformNames } from './platform.js'

/** What the check page shows. */
export interface CheckModel {
  outcome: CheckOutcome
  /** The browser's platform from its User-Agent (platform.ts), if recognized. */
  browserPlatform?: Platform
  /** KAGI_CA_NAME: who issues the certificates the VPN accepts. */
  caName: string
  /** The enrollment page ("Download again"). */
  devicePageUrl: string
}

/**
 * Whether the browser runs on the platform the certificate was issued for.
 * iPadOS Safari presents itself as a Mac (platform.ts), so a Mac browser
 * with an iOS certificate cannot be told apart from an iPad: not compared.
 */
function platformLine(t: (key: CheckMessageKey, params?: Record<string, string>) => string, certificate: CheckedCertificate, browser: Platform | undefined): Html {
  const issued = certificate.devicePlatform
  if (!issued) return html``
  if (!browser || (browser === 'macos' && issued === 'ios')) return html`<p class="muted">${t('platformUnknown')}</p>`
  const params = { certificate: platformNames[issued], browser: platformNames[browser] }
  return browser === issued ? html`<p>${t('platformMatch', params)}</p>` : html`<p class="error">${t('platformMismatch', params)}</p>`
}

function details(ctx: PageContext, t: (key: CheckMessageKey, params?: Record<string, string>) => string, c: CheckedCertificate): Html {
  const device = c.deviceName ? `${c.deviceName}${c.devicePlatform ? ` (${platformNames[c.devicePlatform]})` : ''}` : t('noDevice')
  return html`<dl class="check-details">
<dt>${t('issuedTo')}</dt><dd>${c.email}</dd>
<dt>${t('deviceLabel')}</dt><dd>${device}</dd>
<dt>${t('kindLabel')}</dt><dd>${t(c.profile === 'device' ? 'kindMachine' : 'kindUser')}</dd>
<dt>${t('validUntilLabel')}</dt><dd>${formatDate(ctx.lang, c.notAfter)}</dd>
<dt>${t('serialLabel')}</dt><dd><code>${c.serial}</code></dd>
</dl>`
}

/** Where the certificate should be on this platform, and how to get it again. */
function whereToLook(t: (key: CheckMessageKey, params?: Record<string, string>) => string, model: CheckModel): Html {
  return html`<p>${t(whereKey(model.browserPlatform), { ca: model.caName })}</p><p>${t('redownload')}</p>`
}

/** The outcome's heading and explanation, in plain words. */
function outcomeSection(ctx: PageContext, t: (key: CheckMessageKey, params?: Record<string, string>) => string, model: CheckModel): Html {
  const { outcome } = model
  const ca = model.caName
  const section = (ok: boolean, title: CheckMessageKey, body: Html) =>
    html`<section class="card" aria-labelledby="outcome"><h2 id="outcome" class="${ok ? 'status-active' : 'status-revoked'}">${t(title)}</h2>${body}</section>`
  switch (outcome.kind) {
    case 'none':
      return section(false, 'noneTitle', html`<p>${t('noneBody')}</p>${whereToLook(t, model)}<p>${t('noneRetry')}</p>`)
    case 'foreign':
      return section(false, 'foreignTitle', html`<p>${t('foreignBody', { ca })}</p>${outcome.issuer ? html`<p class="muted">${t('foreignIssuer', { issuer: outcome.issuer })}</p>` : html``}${whereToLook(t, model)}`)
    case 'unknown':
      return section(false, 'unknownTitle', html`<p>${t('unknownBody', { ca })}</p>${whereToLook(t, model)}`)
    case 'ready':
      return section(true, 'readyTitle', html`<p>${t('readyBody', { ca })}</p>${details(ctx, t, outcome.certificate)}${platformLine(t, outcome.certificate, model.browserPlatform)}`)
    case 'revoked':
    case 'superseded':
    case 'expired': {
      const c = outcome.certificate
      const date = formatDate(ctx.lang, outcome.kind === 'expired' ? c.notAfter : (c.revokedAt ?? c.notAfter))
      const device = c.deviceName ?? c.email
      const [title, body] = ({ revoked: ['revokedTitle', 'revokedBody'], superseded: ['supersededTitle', 'supersededBody'], expired: ['expiredTitle', 'expiredBody'] } as const)[outcome.kind]
      return section(false, title, html`<p>${t(body, { device, date })}</p>${details(ctx, t, c)}${platformLine(t, c, model.browserPlatform)}`)
    }
  }
}

/** GET /check: what this browser's certificate is, what to do about it, and why machine certificates do not show here. */
export function checkView(ctx: PageContext, model: CheckModel): Html {
  const t = (key: CheckMessageKey, params?: Record<string, string>) => checkText(ctx.lang, key, params)
  return page(
    ctx,
    t('checkTitle'),
    html`<h2>${t('checkTitle')}</h2><p>${t('checkIntro')}</p>
${outcomeSection(ctx, t, model)}
<section aria-labelledby="machine"><h2 id="machine">${t('machineTitle')}</h2><p>${t('machineNote')}</p></section>
<p><a href="/check">${t('checkAgain')}</a> · <a href="${model.devicePageUrl}">${t('goDevicePage')}</a></p>`,
  )
}
