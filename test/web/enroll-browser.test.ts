import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { derToPem } from '../../ca/index.js'
import { launchChromium } from '../support/browser.js'
import { kagiWithIdp } from '../support/kagi-with-idp.js'
import { run } from '../support/openssl.js'

// The whole employee path with real parts: kagi listening on loopback, Debian's SimpleSAMLphp as
// the IdP (OneLogin's attribute names), Debian's Chromium driven by playwright-core.

const screenshotDir = join(process.cwd(), 'test-results')

t.test('sign in through SimpleSAMLphp in Chromium, enroll this Mac, get a verified profile', async (t) => {
  const kagi = await kagiWithIdp(t, { KAGI_SAML_ADMIN_GROUPS: 'VPN Admins', KAGI_GP_PORTAL: 'vpn.example.com' })
  if (!kagi) return
  const { publicUrl, services, dir } = kagi

  const browser = await launchChromium(t)
  const context = await browser.newContext({ acceptDownloads: true, locale: 'en-US', userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15' })
  const page = await context.newPage()
  const external: string[] = []
  page.on('request', (request) => {
    const url = new URL(request.url())
    if (!['127.0.0.1', ''].includes(url.hostname) && url.protocol !== 'data:') external.push(request.url())
  })

  const home = await page.goto(`${publicUrl}/`)
  t.equal(home?.status(), 200)
  const pageBytes = Buffer.byteLength(await home!.text())
  t.ok(pageBytes < 100 * 1024, `sign-in page ${pageBytes} bytes`)
  const started = Date.now()
  await page.getByRole('link', { name: 'Sign in with OneLogin' }).click()
  await page.waitForURL(/loginuserpass\.php/, { timeout: 15_000 })
  await page.fill('input[name="username"]', 'alice')
  await page.fill('input[name="password"]', 'alice-pass')
  await Promise.all([page.waitForURL(`${publicUrl}/`, { timeout: 15_000 }), page.keyboard.press('Enter')])
  const afterLogin = Date.now()
  t.match(await page.textContent('main'), /alice@example\.com/)
  t.equal(await page.inputValue('#platform'), 'macos', 'macOS detected and preselected')
  t.ok(await page.getByRole('link', { name: 'Admin pages' }).isVisible(), 'VPN Admins group → admin link')

  await page.fill('#deviceName', 'MacBook Pro 14')
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 20_000 }), page.getByRole('button', { name: 'Enroll and download' }).click()])
  const file = join(dir.dir, download.suggestedFilename())
  await download.saveAs(file)
  const done = Date.now()
  t.comment(`sign-in (IdP round trip) ${afterLogin - started} ms; sign-in → downloaded bundle ${done - started} ms`)
  t.match(download.suggestedFilename(), /\.mobileconfig$/)
  await page.waitForSelector('h2')
  mkdirSync(screenshotDir, { recursive: true })
  await page.screenshot({ path: join(screenshotDir, 'enrollment-ready.png'), fullPage: true })
  await page.goto(`${publicUrl}/`)
  t.match(await page.textContent('main'), /MacBook Pro 14/)
  await page.screenshot({ path: join(screenshotDir, 'enrollment-page.png'), fullPage: true })
  t.same(external, [], 'no third-party requests')

  // The downloaded profile: CMS signature verifies against kagi's root, the content is a plist.
  const root = dir.file('root.pem', derToPem(services.ca.root.der, 'CERTIFICATE'))
  const content = join(dir.dir, 'profile.plist')
  const verify = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', root, '-out', content])
  t.equal(verify.status, 0, verify.stderr)
  const bin = join(dir.dir, 'profile.bplist')
  run('plistutil', ['-i', content, '-f', 'bin', '-o', bin])
  t.ok(readFileSync(bin).length > 0, 'plistutil parses the profile')
  t.match(readFileSync(content, 'utf8'), /com\.apple\.security\.pkcs12/)
  writeFileSync(join(screenshotDir, 'enrollment-timing.txt'), `sign-in to downloaded bundle: ${done - started} ms\n`)
})
