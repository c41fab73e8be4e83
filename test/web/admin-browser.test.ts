import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import t from 'tap'
import { derToPem } from '../../ca/index.js'
import { launchChromium } from '../support/browser.js'
import { kagiWithIdp } from '../support/kagi-with-idp.js'
import { runAsync } from '../support/openssl.js'

// The admin console with real parts: SimpleSAMLphp signs in alice (group "VPN Admins") and bob
// (no admin group) in Debian's Chromium. Alice finds bob's laptop, revokes it, and `openssl ocsp`
// then says revoked; bob gets 403. axe-core checks every admin page in both languages, and the
// screenshots go to test-results/.

const screenshotDir = join(process.cwd(), 'test-results')
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

t.test('an admin finds a lost laptop and revokes it; OCSP says revoked; a non-admin gets 403; axe finds nothing', async (t) => {
  const kagi = await kagiWithIdp(t, { KAGI_SAML_ADMIN_GROUPS: 'VPN Admins' })
  if (!kagi) return
  const { publicUrl, services, as, dir } = kagi
  // Bob's laptop, enrolled by the MDM path.
  const issued = await fetch(`${publicUrl}/api/v1/certificates`, {
    method: 'POST',
    headers: { ...as.admin, 'content-type': 'application/json' },
    body: JSON.stringify({ profile: 'user', user: 'bob@example.com', device: { name: 'Bob ThinkPad', platform: 'windows', serialNumber: 'PF3XYZ12' } }),
  })
  t.equal(issued.status, 201)
  const { certificate, deviceId } = (await issued.json()) as { certificate: string; deviceId: string }

  const browser = await launchChromium(t)
  async function signedIn(username: string, password: string, lang: string) {
    // bypassCSP only so that axe-core can be injected; kagi's own pages run under their CSP in the other contexts.
    const context = await browser.newContext({ locale: lang, bypassCSP: true, extraHTTPHeaders: { 'accept-language': lang } })
    const page = await context.newPage()
    await page.goto(`${publicUrl}/auth/saml/login`)
    await page.waitForURL(/loginuserpass\.php/, { timeout: 15_000 })
    await page.fill('input[name="username"]', username)
    await page.fill('input[name="password"]', password)
    await Promise.all([page.waitForURL(`${publicUrl}/`, { timeout: 15_000 }), page.keyboard.press('Enter')])
    return page
  }
  mkdirSync(screenshotDir, { recursive: true })
  const violations: string[] = []
  async function check(page: Awaited<ReturnType<typeof signedIn>>, name: string) {
    await page.evaluate(axeSource)
    const result = (await page.evaluate(`axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] })`)) as { violations: { id: string; nodes: unknown[] }[] }
    for (const v of result.violations) violations.push(`${name}: ${v.id} (${v.nodes.length})`)
    await page.screenshot({ path: join(screenshotDir, `admin-${name}.png`), fullPage: true })
  }

  const bob = await signedIn('bob', 'bob-pass', 'en-US')
  const refused = await bob.goto(`${publicUrl}/admin`)
  t.equal(refused?.status(), 403, 'bob is not an admin')
  t.notMatch((await bob.textContent('main')) ?? '', /ThinkPad/)

  for (const lang of ['en-US', 'ja'] as const) {
    const alice = await signedIn('alice', 'alice-pass', lang)
    const suffix = lang === 'ja' ? 'ja' : 'en'
    await alice.goto(`${publicUrl}/admin`)
    await check(alice, `dashboard-${suffix}`)
    await alice.goto(`${publicUrl}/admin/search`)
    await alice.fill('#q', 'bob')
    await Promise.all([alice.waitForURL(/\/admin\/search\?q=bob/), alice.keyboard.press('Enter')])
    await check(alice, `search-${suffix}`)
    await alice.goto(`${publicUrl}/admin/users/bob%40example.com`)
    await check(alice, `user-${suffix}`)
    await alice.goto(`${publicUrl}/admin/audit`)
    await check(alice, `audit-${suffix}`)
    await alice.goto(`${publicUrl}/admin/tokens`)
    await check(alice, `tokens-${suffix}`)
    await alice.goto(`${publicUrl}/admin/panos`)
    await check(alice, `panos-${suffix}`)
    await alice.goto(`${publicUrl}/admin/devices/${deviceId}`)
    await check(alice, `device-${suffix}`)
    if (lang !== 'en-US') continue
    // The lost laptop: from the search result to the device page, then revoke it with the keyboard.
    await alice.goto(`${publicUrl}/admin/search?q=PF3X`)
    await Promise.all([alice.waitForURL(`${publicUrl}/admin/devices/${deviceId}`), alice.getByRole('link', { name: 'Bob ThinkPad' }).click()])
    await alice.getByLabel('Yes, revoke every active certificate of this device').check()
    await Promise.all([alice.waitForURL(`${publicUrl}/admin/devices/${deviceId}/revoke`), alice.getByRole('button', { name: 'Revoke this device' }).click()])
    const outcome = (await alice.textContent('main')) ?? ''
    t.match(outcome, /Revoked 1 certificate\./)
    t.match(outcome, /OCSP now says: revoked\./)
    await check(alice, 'device-revoked-en')
  }
  t.same(violations, [], 'axe-core finds no violation on the admin pages')

  const certFile = dir.file('bob.pem', certificate)
  const issuingFile = dir.file('issuing.pem', derToPem(services.ca.issuing.der, 'CERTIFICATE'))
  const rootFile = dir.file('root.pem', derToPem(services.ca.root.der, 'CERTIFICATE'))
  // Asynchronously: kagi answers from this very process.
  const ocsp = await runAsync('openssl', ['ocsp', '-issuer', issuingFile, '-cert', certFile, '-CAfile', rootFile, '-url', `${publicUrl}/ocsp`])
  t.match(ocsp.stdout, /: revoked/, ocsp.stdout + ocsp.stderr)
  t.match(ocsp.stderr + ocsp.stdout, /Response verify OK/)
})
