import 'reflect-metadata'
import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import t from 'tap'
import { operations } from '../../src/openapi/operations.js'
import { build } from '../helper.js'
import { launchChromium } from '../support/browser.js'
import { kagiOnLoopback } from '../support/kagi-on-loopback.js'

// GET /docs: the API reference page kagi serves itself. It lists every operation, links and loads
// nothing from another origin, carries no script, and passes axe-core in Debian's Chromium under
// kagi's own CSP (axe is evaluated through the DevTools protocol, which the CSP does not govern).

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
const screenshotDir = join(process.cwd(), 'test-results')

/** The values of every src and href attribute. */
const urlAttributes = (page: string): string[] => [...page.matchAll(/\b(?:src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)].map((m) => m[1] ?? m[2] ?? m[3]!)

t.test('GET /docs lists every operation, with nothing from another origin', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({ url: '/docs' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html; charset=utf-8/)
  t.match(res.headers['content-security-policy'], /default-src 'none'/, "the pages' CSP")
  const page = res.body
  t.match(page, /<code>\/api\/v1\/certificates<\/code>/)
  for (const op of operations) t.match(page, `id="op-${op.id}"`, `${op.method} ${op.path} has its section`)
  t.match(page, 'href="/openapi.json"')
  t.match(page, /curl -sS/)
  t.notMatch(page, /<script\b/i, 'no script')
  t.notMatch(page, /<(link|iframe|img|object|embed)\b/i, 'no other resource')
  const foreign = urlAttributes(page).filter((url) => /^\s*(https?:)?\/\//i.test(url) && !url.startsWith('http://kagi.test/'))
  t.same(foreign, [], 'no src or href names another origin')
  t.ok(
    urlAttributes(page).every((url) => url.startsWith('/') || url.startsWith('#')),
    'every link is a path or an anchor of this page',
  )
  const nonce = /style-src 'nonce-([^']+)'/.exec(String(res.headers['content-security-policy']))![1]!
  for (const style of page.matchAll(/<style\b([^>]*)>/g)) t.match(style[1], `nonce="${nonce}"`, 'each style carries the nonce')

  const again = await app.inject({ url: '/docs', headers: { 'accept-language': 'ja' } })
  t.match(again.body, /<html lang="ja">/)
  t.match(again.body, /<div lang="en"><div class="api-docs">/, 'the reference is marked as English inside a Japanese shell')
})

t.test('GET /docs in Chromium: no request elsewhere, no CSP or script error, axe-core finds nothing', async (t) => {
  const kagi = await kagiOnLoopback(t)
  if (!kagi) return
  const browser = await launchChromium(t)
  mkdirSync(screenshotDir, { recursive: true })
  const problems: string[] = []
  for (const [lang, viewport] of [
    ['en-US', { width: 1280, height: 800 }],
    ['ja', { width: 390, height: 844 }],
  ] as const) {
    const context = await browser.newContext({ locale: lang, viewport, extraHTTPHeaders: { 'accept-language': lang } })
    const page = await context.newPage()
    page.on('request', (request) => {
      if (!request.url().startsWith(`${kagi.publicUrl}/`)) problems.push(`${lang}: request to ${request.url()}`)
    })
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`${lang}: console ${message.text()}`)
    })
    page.on('pageerror', (error) => problems.push(`${lang}: script error ${error.message}`))
    const response = await page.goto(`${kagi.publicUrl}/docs`)
    t.equal(response?.status(), 200)
    await page.evaluate(() => document.querySelectorAll('details').forEach((d) => (d.open = true)))
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }))
    if (scrollWidth > innerWidth) problems.push(`${lang} at ${viewport.width} px: ${scrollWidth} px wide`)
    await page.screenshot({ path: join(screenshotDir, `docs-${lang}.png`), fullPage: false })
    await page.evaluate(axeSource)
    const result = (await page.evaluate(`axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] })`)) as { violations: { id: string; nodes: unknown[] }[] }
    for (const v of result.violations) problems.push(`${lang}: axe ${v.id} (${v.nodes.length})`)
    // The table of contents leads to the operation.
    await page.click('nav.toc a[href="#op-issueCertificate"]')
    t.equal(await page.evaluate(() => location.hash), '#op-issueCertificate')
    await context.close()
  }
  t.same(problems, [], 'nothing from another origin, no error, no overflow, no axe-core violation')
})
