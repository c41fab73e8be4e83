import { randomBytes } from 'node:crypto'
import type { FastifyReply } from 'fastify'
import { langs, translate, type Lang } from './i18n.js'

/** Escapes text for HTML element content and double-quoted attributes. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

/** A template literal tag that escapes every interpolated value unless it is {@link Html}. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text
  }
}
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!
  })
  return new Html(out)
}
function render(value: unknown): string {
  if (value instanceof Html) return value.text
  if (Array.isArray(value)) return value.map(render).join('')
  if (value === undefined || value === null || value === false) return ''
  return esc(value)
}

// Small and self-contained: no fonts, images or scripts from elsewhere. Contrast ≥ 4.5:1 (WCAG 2.1 §1.4.3).
const css = `
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#4b5563;--line:#d0d7de;--accent:#0b57d0;--bad:#b42318;--ok:#05603a;--card:#f6f8fa}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9aa4af;--line:#30363d;--accent:#6cb6ff;--bad:#ff8182;--ok:#56d364;--card:#161b22}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans JP",sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:46rem;margin:0 auto;padding:1rem}header{display:flex;gap:.5rem 1rem;align-items:center;justify-content:space-between;border-bottom:1px solid var(--line)}
header nav{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:flex-end}header nav button{margin-top:0;white-space:nowrap}
main{overflow-wrap:anywhere}[hidden]{display:none!important}
h1{font-size:1.4rem;margin:0}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}a{color:var(--accent)}.muted{color:var(--muted)}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1rem;margin:1rem 0}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}.hint{font-weight:400;color:var(--muted);font-size:.9rem;margin:.1rem 0}
input[type=text],input[type=email],select{width:100%;padding:.55rem;font:inherit;color:inherit;background:var(--bg);border:1px solid var(--line);border-radius:6px}
.choice{display:flex;gap:.5rem;align-items:flex-start;font-weight:400;margin:.35rem 0}
button,.button{display:inline-block;font:inherit;font-weight:600;padding:.6rem 1.1rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:#fff;text-decoration:none;cursor:pointer;margin-top:.75rem}
@media (prefers-color-scheme:dark){button,.button{color:#0d1117}}
button.secondary{background:transparent;color:var(--accent)}button.danger{background:var(--bad);border-color:var(--bad)}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.notice{border-left:4px solid var(--ok);padding:.5rem 1rem;background:var(--card)}.error{border-left:4px solid var(--bad);padding:.5rem 1rem;background:var(--card)}
table{width:100%;border-collapse:collapse;font-size:.95rem}th,td{text-align:left;padding:.35rem;border-bottom:1px solid var(--line)}
code,.password{font-family:ui-monospace,Menlo,Consolas,monospace}.password{font-size:1.3rem;letter-spacing:.05em;padding:.4rem .6rem;border:1px dashed var(--line);display:inline-block}
ol li{margin:.3rem 0}details{margin:.5rem 0}summary{cursor:pointer;font-weight:600}
.dev{border:2px dashed var(--bad)}nav form{display:inline}
main:has(.admin),header:has(+main .admin){max-width:72rem}.admin nav.tabs{display:flex;flex-wrap:wrap;gap:.25rem 1rem;margin:.5rem 0 1rem}
.admin nav.tabs a[aria-current=page]{font-weight:700;text-decoration:none}.scroll{overflow-x:auto}.numbers{font-size:.85rem}
.chart{margin:1rem 0}.chart svg[role=img]{width:100%;height:12rem;border-bottom:1px solid var(--line)}.bar-issued{fill:var(--accent)}.bar-revoked{fill:var(--bad)}.bar-active{fill:var(--ok)}
.axis{font-size:10px;fill:var(--muted)}.axis-line{stroke:var(--line)}.swatch{width:.8em;height:.8em}.legend span{margin-right:1rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(20rem,1fr));gap:1rem}.inline{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end}.inline label{margin:.25rem 0}
.certs{list-style:none;padding:0;margin:.5rem 0}.cert{display:flex;flex-wrap:wrap;gap:.25rem .75rem;align-items:baseline;padding:.4rem 0;border-bottom:1px solid var(--line)}
.cert-revoked,.cert-expired{color:var(--muted)}
.cert .seen{flex-basis:100%}
.badge{font-weight:600;font-size:.9rem;padding:0 .45rem;border-radius:1rem;border:1px solid currentColor;white-space:nowrap}.badge-active{color:var(--ok)}.badge-revoked{color:var(--bad);border-style:dashed}.badge-expired{color:var(--muted);border-style:dotted}
.status-revoked{color:var(--bad);font-weight:600}.status-expired{color:var(--muted);font-weight:600}.status-active{color:var(--ok);font-weight:600}
`

/** Per-response values of the page shell. */
export interface PageContext {
  lang: Lang
  /** Nonce for the page's own style and script (Content-Security-Policy). */
  nonce: string
  /** The path the language switch returns to. */
  path: string
}

/** A fresh CSP nonce. */
export const newNonce = (): string => randomBytes(16).toString('base64')

/** The whole page: language switch, header, content. */
export function page(ctx: PageContext, title: string, content: Html, headerExtra: Html = html``): Html {
  const other = langs.filter((l) => l !== ctx.lang)
  return html`<!doctype html>
<html lang="${ctx.lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title><style nonce="${ctx.nonce}">${new Html(css)}</style></head>
<body><header><h1>鍵 kagi · ${translate(ctx.lang, 'title')}</h1><nav>${other.map((l) => html`<a href="/lang/${l}?back=${encodeURIComponent(ctx.path)}" hreflang="${l}" lang="${l}">${l === 'ja' ? '日本語' : 'English'}</a> `)}${headerExtra}</nav></header>
<main>${content}</main></body></html>`
}

/** Sends a page with headers that keep it private and unframeable (CSP Level 3). */
export function sendPage(reply: FastifyReply, ctx: PageContext, body: Html, status = 200): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', `default-src 'none'; style-src 'nonce-${ctx.nonce}'; script-src 'nonce-${ctx.nonce}'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'same-origin')
    .send(body.text)
}
