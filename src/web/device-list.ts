import type { DeviceWithCertificates } from '../db/device-repository.js'
import { html, type Html, type PageContext } from './html.js'
import { translate, type Lang, type MessageKey } from './i18n.js'
import { platformNames } from './platform.js'
import { vpnUse } from '../revocation/last-seen.js'

/** Within this many days of expiry the page asks for "Download again" now rather than "before then". */
const RENEW_SOON_DAYS = 30

type Certificate = DeviceWithCertificates['certificates'][number]
type Shown = 'active' | 'revoked' | 'expired'

/** A date as the employee reads it (the day in UTC: kagi does not know the device's time zone). */
export function formatDate(lang: Lang, date: Date): string {
  return new Intl.DateTimeFormat(lang === 'ja' ? 'ja-JP' : 'en-US', { dateStyle: 'long', timeZone: 'UTC' }).format(date)
}

function shownStatus(c: Certificate, now: number): Shown {
  if (c.status === 'revoked') return 'revoked'
  return c.notAfter.getTime() <= now ? 'expired' : 'active'
}

// The status is a word and an icon, not colour alone (WCAG 2.1 §1.4.1); the icon is decoration for screen readers.
const icons: Record<Shown, string> = { active: '✓', revoked: '✕', expired: '⌛' }

function badge(lang: Lang, status: Shown): Html {
  return html`<span class="badge badge-${status}"><span aria-hidden="true">${icons[status]}</span> ${translate(lang, status)}</span>`
}

/** A time of day as HH:MM in UTC (like formatDate, kagi does not know the device's time zone). */
const formatTime = (date: Date): string => date.toISOString().slice(11, 16)

/**
 * "Last seen by the VPN" for an active certificate (revocation/last-seen.ts):
 * when the firewall last asked about it, or that it has not, which a day
 * after issuance likely means it is not where GlobalProtect looks.
 */
function vpnSeen(lang: Lang, c: Certificate, now: number): Html {
  const use = vpnUse(c, new Date(now))
  if (use.seen) {
    const today = use.at.toISOString().slice(0, 10) === new Date(now).toISOString().slice(0, 10)
    const text = today ? translate(lang, 'vpnCheckedToday', { time: formatTime(use.at) }) : translate(lang, 'vpnCheckedOn', { date: formatDate(lang, use.at), time: formatTime(use.at) })
    return html`<span class="seen muted">${text}</span>`
  }
  return use.neverUsed ? html`<span class="seen error">${translate(lang, 'vpnNeverUsed')}</span>` : html`<span class="seen muted">${translate(lang, 'vpnNotYet')}</span>`
}

function certificateItem(lang: Lang, c: Certificate, now: number): Html {
  const status = shownStatus(c, now)
  const profile: MessageKey = c.profile === 'device' ? 'profile_device' : 'profile_user'
  const when = status === 'revoked' ? translate(lang, 'revokedCertificate') : translate(lang, status === 'active' ? 'expiresOn' : 'expiredOn', { date: formatDate(lang, c.notAfter) })
  return html`<li class="cert cert-${status}">${badge(lang, status)} <span>${translate(lang, profile)}</span> <span class="muted">${when}</span> <code title="${c.serial}">${c.serial.slice(0, 12)}…</code>${status === 'active' ? vpnSeen(lang, c, now) : html``}</li>`
}

/** When the device's certificate runs out and what to do before then; or that it has none. */
function validity(lang: Lang, device: DeviceWithCertificates, now: number): Html {
  const valid = device.certificates.filter((c) => shownStatus(c, now) === 'active').sort((a, b) => b.notAfter.getTime() - a.notAfter.getTime())[0]
  if (!valid) return html`<p class="error">${translate(lang, 'noValidCertificate')}</p>`
  const soon = valid.notAfter.getTime() - now <= RENEW_SOON_DAYS * 86_400_000
  return html`<p class="${soon ? 'error' : 'notice'}">${translate(lang, soon ? 'validSoon' : 'validUntil', { date: formatDate(lang, valid.notAfter) })}</p>`
}

function deviceCard(ctx: PageContext, device: DeviceWithCertificates, csrf: string, now: number): Html {
  const lang = ctx.lang
  const heading = `device-${device.id}`
  return html`<section class="card" aria-labelledby="${heading}"><h3 id="${heading}">${device.name} <span class="muted">· ${platformNames[device.platform]}${device.hostname ? ` · ${device.hostname}` : ''}</span></h3>
${validity(lang, device, now)}
<ul class="certs" aria-label="${translate(lang, 'certificatesOfDevice')}">${device.certificates.map((c) => certificateItem(lang, c, now))}</ul>
<form method="post" action="/devices/${device.id}/renew"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="kind" value="${device.certificates[0]?.profile === 'device' ? 'device' : 'user'}"><button class="secondary" type="submit">${translate(lang, 'downloadAgain')}</button> <span class="muted">${translate(lang, 'downloadAgainHint')}</span></form>
${device.certificates.some((c) => c.status === 'active')
  ? html`<details><summary>${translate(lang, 'lostTitle')}</summary><form method="post" action="/devices/${device.id}/lost"><input type="hidden" name="_csrf" value="${csrf}">
<label class="choice"><input type="checkbox" name="confirm" value="yes" required> ${translate(lang, 'lostConfirm')}</label><button class="danger" type="submit">${translate(lang, 'lostButton')}</button></form></details>`
  : html``}</section>`
}

/**
 * "Your devices": one card per device, each with its certificates as a list
 * (it fits a 390-px phone, where a table would not), when the valid one
 * expires and what to do before then, "Download again" and "I lost this device".
 */
export function deviceList(ctx: PageContext, devices: readonly DeviceWithCertificates[], csrf: string, now = Date.now()): Html {
  if (devices.length === 0) return html`<p class="muted">${translate(ctx.lang, 'noDevices')}</p>`
  return html`${devices.map((device) => deviceCard(ctx, device, csrf, now))}`
}
