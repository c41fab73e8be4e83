import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, writeFileSync, accessSync, constants } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import t from 'tap'
import { chromium } from 'playwright-core'
import { build } from '../helper.js'
import { CHROMIUM_INSTALL_HINT, CHROMIUM_PATH, chromiumAvailable } from '../support/browser.js'
import { issueThroughApi } from '../support/check-clients.js'
import { commandExists, requireComponent } from '../support/components.js'
import { freePort } from '../support/free-port.js'
import { run, tempDir } from '../support/openssl.js'
import { startCheckListener } from '../../src/startup/check-listener.js'

// Debian's Chromium against the check listener, the way an employee's browser meets it: kagi's root
// is trusted and alice's certificate is installed in the NSS store Chromium reads on Linux
// ($HOME/.pki/nssdb, with certutil and pk12util), and the AutoSelectCertificateForUrls policy picks
// it (a headless browser shows no certificate picker). Managed policies are read only from
// /etc/chromium/policies/managed, so the test writes one file there and removes it; where it may
// not (not root), it says so and skips. axe-core checks the page in both languages.

const HOSTNAME = 'check.kagi.test'
const POLICY_DIR = '/etc/chromium/policies/managed'
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** Whether the policy directory can be written; a directory this test had to create is removed at teardown. */
function policyDirWritable(t: { teardown: (fn: () => void) => void }): boolean {
  try {
    const created = mkdirSync(POLICY_DIR, { recursive: true })
    if (created) t.teardown(() => rmSync(created, { recursive: true, force: true }))
    accessSync(POLICY_DIR, constants.W_OK)
    return true
  } catch {
    return false
  }
}

t.test('Chromium with a certificate in its NSS store: this device is ready; axe finds nothing', async (t) => {
  if (!requireComponent(t, { name: 'Chromium', available: chromiumAvailable(), install: CHROMIUM_INSTALL_HINT })) return
  if (!requireComponent(t, { name: 'NSS tools (certutil, pk12util)', available: commandExists('pk12util') && commandExists('certutil'), install: 'libnss3-tools' })) return
  if (!policyDirWritable(t)) {
    t.comment(`skipped: ${POLICY_DIR} is not writable, and Chromium reads AutoSelectCertificateForUrls only from there`)
    t.skip('cannot install the certificate auto-selection policy', () => {})
    return
  }
  const port = await freePort()
  const { app, as, services } = await build(t, { env: { KAGI_CHECK_LISTEN: `127.0.0.1:${port}`, KAGI_CHECK_HOSTNAME: HOSTNAME } })
  const listener = await startCheckListener(services)
  t.teardown(() => listener?.close())

  const dir = tempDir(t)
  const alice = await issueThroughApi(app, as.admin, dir.dir, 'alice', { profile: 'user', user: 'alice@example.com', device: { name: 'Alice Chromebook', platform: 'chromeos' } })
  const rootPem = services.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g)![1]!
  const rootFile = dir.file('root.pem', rootPem)
  const p12 = join(dir.dir, 'alice.p12')
  const exported = run('openssl', ['pkcs12', '-export', '-in', alice.certPath, '-inkey', alice.keyPath, '-out', p12, '-passout', 'pass:p12-pass', '-name', 'alice'])
  t.equal(exported.status, 0, exported.stderr)

  // Chromium on Linux reads the NSS shared database in $HOME/.pki/nssdb.
  const home = join(dir.dir, 'home')
  const nssdb = `sql:${join(home, '.pki', 'nssdb')}`
  mkdirSync(join(home, '.pki', 'nssdb'), { recursive: true })
  for (const args of [
    ['certutil', '-N', '-d', nssdb, '--empty-password'],
    ['certutil', '-A', '-d', nssdb, '-n', 'kagi root', '-t', 'C,,', '-i', rootFile],
    ['pk12util', '-i', p12, '-d', nssdb, '-W', 'p12-pass'],
  ]) {
    const r = run(args[0]!, args.slice(1))
    t.equal(r.status, 0, `${args.slice(0, 2).join(' ')}: ${r.stdout}${r.stderr}`)
  }
  t.match(run('certutil', ['-L', '-d', nssdb]).stdout, /alice/, 'the certificate is in the NSS store')

  const origin = `https://${HOSTNAME}:${port}`
  const policyFile = join(POLICY_DIR, `kagi-check-test-${randomBytes(4).toString('hex')}.json`)
  writeFileSync(policyFile, JSON.stringify({ AutoSelectCertificateForUrls: [JSON.stringify({ pattern: origin, filter: {} })] }))
  t.teardown(() => rmSync(policyFile, { force: true }))

  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    chromiumSandbox: false,
    env: { ...process.env, HOME: home },
    args: ['--disable-gpu', '--disable-quic', '--disable-sync', '--no-proxy-server', `--host-resolver-rules=MAP ${HOSTNAME} 127.0.0.1`],
    timeout: 30_000,
  })
  t.teardown(() => browser.close())

  const violations: string[] = []
  for (const lang of ['en-US', 'ja'] as const) {
    const context = await browser.newContext({ locale: lang, bypassCSP: true, extraHTTPHeaders: { 'accept-language': lang } })
    const page = await context.newPage()
    const response = await page.goto(`${origin}/check`, { timeout: 20_000 })
    t.equal(response?.status(), 200, 'the page loads over TLS with no certificate error (kagi’s root is trusted)')
    const text = (await page.textContent('main')) ?? ''
    t.match(text, lang === 'ja' ? /このデバイスは準備ができています/ : /This device is ready/, `the certificate from the NSS store was sent (${lang})`)
    t.match(text, /alice@example\.com/)
    await page.evaluate(axeSource)
    const result = (await page.evaluate(`axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] })`)) as { violations: { id: string; nodes: unknown[] }[] }
    for (const v of result.violations) violations.push(`${lang}: ${v.id} (${v.nodes.length})`)
    await context.close()
  }
  t.same(violations, [], 'axe-core finds no violation on the check page')
})
