import t from 'tap'
import { build } from '../helper.js'
import { foreignCertificate, issueThroughApi } from '../support/check-clients.js'
import { commandExists, requireComponent } from '../support/components.js'
import { tempDir } from '../support/openssl.js'
import { PageClient } from '../support/session.js'
import { loadConfig } from '../../src/config.js'

// GET /check behind a TLS-terminating proxy: the certificate comes in KAGI_CHECK_CERT_HEADER, as
// nginx's $ssl_client_escaped_cert (URL-encoded PEM), and only a KAGI_TRUST_PROXY address is
// believed. Each outcome in English and Japanese, the platform comparison, and the install steps
// ending with the link to the page.

const HEADER = 'x-ssl-client-cert'
const PROXY = '127.0.0.1'
const ua = {
  mac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  windows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  android: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36',
}
/** What nginx puts in the header for $ssl_client_escaped_cert. */
const escaped = (pem: string) => encodeURIComponent(pem)

t.test('GET /check reads the certificate from a trusted proxy’s header', async (t) => {
  if (!requireComponent(t, { name: 'openssl', available: commandExists('openssl'), install: 'openssl' })) return
  let now = new Date()
  const { app, as } = await build(t, { env: { KAGI_CHECK_CERT_HEADER: 'X-SSL-Client-Cert', KAGI_TRUST_PROXY: PROXY, KAGI_CHECK_HOSTNAME: 'check.kagi.test' }, clock: () => now })
  const dir = tempDir(t)
  const alice = await issueThroughApi(app, as.admin, dir.dir, 'alice', { profile: 'user', user: 'alice@example.com', device: { name: 'Alice MacBook', platform: 'macos' } })
  const bob = await issueThroughApi(app, as.admin, dir.dir, 'bob', { profile: 'user', user: 'bob@example.com', device: { name: 'Bob Pixel', platform: 'android' } })
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/certificates/${bob.serial}/revoke`, headers: as.admin, payload: { reason: 'keyCompromise' } })).statusCode, 200)
  const carolOld = await issueThroughApi(app, as.admin, dir.dir, 'carol-old', { profile: 'user', user: 'carol@example.com', device: { name: 'Carol PC', platform: 'windows' } })
  await issueThroughApi(app, as.admin, dir.dir, 'carol-new', { profile: 'user', user: 'carol@example.com', device: { name: 'Carol PC', platform: 'windows' } })
  // Issued "400 days ago": a year's certificate that has since expired.
  now = new Date(Date.now() - 400 * 86_400_000)
  const dave = await issueThroughApi(app, as.admin, dir.dir, 'dave', { profile: 'user', user: 'dave@example.com', device: { name: 'Dave Mac', platform: 'macos' } })
  now = new Date()
  const erin = await issueThroughApi(app, as.admin, dir.dir, 'erin', { profile: 'device', user: 'erin@example.com', device: { name: 'Erin PC', platform: 'windows', hostname: 'erin-pc.corp.example.com' } })
  const foreign = foreignCertificate(dir.dir)

  const check = (headers: Record<string, string>, lang = 'en', remoteAddress = PROXY) =>
    app.inject({ method: 'GET', url: '/check', remoteAddress, headers: { 'accept-language': lang, 'user-agent': ua.mac, ...headers } })

  await t.test('ready, from the trusted proxy, in English and Japanese', async (t) => {
    const res = await check({ [HEADER]: escaped(alice.pem) })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /text\/html/)
    t.match(res.headers['content-security-policy'], /default-src 'none'/)
    t.match(res.body, /This device is ready/)
    t.match(res.body, /alice@example\.com/)
    t.match(res.body, /Alice MacBook \(macOS\)/)
    t.match(res.body, /User certificate \(for you on this device\)/)
    t.match(res.body, /they match/)
    const ja = await check({ [HEADER]: escaped(alice.pem) }, 'ja')
    t.match(ja.body, /<html lang="ja">/)
    t.match(ja.body, /このデバイスは準備ができています/)
    t.match(ja.body, /ユーザー証明書/)
    t.match(ja.body, /一致しています/)
  })

  await t.test('an untrusted source sending the header is ignored: no certificate', async (t) => {
    const res = await check({ [HEADER]: escaped(alice.pem) }, 'en', '203.0.113.7')
    t.equal(res.statusCode, 200)
    t.notMatch(res.body, /This device is ready/)
    t.notMatch(res.body, /alice@example\.com/)
    t.match(res.body, /This browser did not send a certificate/)
    const ja = await check({ [HEADER]: escaped(alice.pem) }, 'ja', '203.0.113.7')
    t.match(ja.body, /このブラウザーは証明書を送りませんでした/)
  })

  await t.test('the header forms proxies use: escaped PEM, PEM with tabs, bare base64 DER', async (t) => {
    const base64 = alice.pem.replace(/-----[^-]+-----|\s/g, '')
    const tabbed = alice.pem.trim().replace(/\n/g, '\n\t')
    for (const value of [escaped(alice.pem), tabbed.replace(/\n/g, ' '), base64]) {
      t.match((await check({ [HEADER]: value })).body, /This device is ready/, value.slice(0, 40))
    }
    t.match((await check({ [HEADER]: '' })).body, /did not send a certificate/, 'nginx sends an empty value when there is none')
    t.match((await check({ [HEADER]: 'not a certificate!' })).body, /did not send a certificate/, 'garbage is no certificate')
  })

  await t.test('revoked, in English and Japanese, with the platform mismatch', async (t) => {
    const res = await check({ [HEADER]: escaped(bob.pem) })
    t.match(res.body, /This certificate has been revoked/)
    t.match(res.body, /Bob Pixel/)
    t.match(res.body, /issued for a device running Android, but this browser runs on macOS/)
    const ja = await check({ [HEADER]: escaped(bob.pem) }, 'ja')
    t.match(ja.body, /この証明書は失効しています/)
    t.match(ja.body, /Android のデバイス用に発行された証明書ですが、このブラウザーは macOS で動いています/)
  })

  await t.test('superseded by a newer download, in English and Japanese', async (t) => {
    t.match((await check({ [HEADER]: escaped(carolOld.pem) })).body, /This certificate has been replaced by a newer one/)
    t.match((await check({ [HEADER]: escaped(carolOld.pem) }, 'ja')).body, /この証明書は新しい証明書に置き換えられています/)
  })

  await t.test('expired, in English and Japanese', async (t) => {
    t.match((await check({ [HEADER]: escaped(dave.pem) })).body, /This certificate has expired/)
    t.match((await check({ [HEADER]: escaped(dave.pem) }, 'ja')).body, /この証明書は期限切れです/)
  })

  await t.test('another CA’s certificate, in English and Japanese', async (t) => {
    const res = await check({ [HEADER]: escaped(foreign.pem) })
    t.match(res.body, /This browser sent a certificate from someone else/)
    t.match(res.body, /Other Corp CA/)
    t.match((await check({ [HEADER]: escaped(foreign.pem) }, 'ja')).body, /このブラウザーは別の発行元の証明書を送りました/)
  })

  await t.test('a certificate naming kagi’s CA with a signature kagi did not make is another CA’s', async (t) => {
    const der = Buffer.from(alice.pem.replace(/-----[^-]+-----|\s/g, ''), 'base64')
    der.writeUInt8(der.readUInt8(der.length - 5) ^ 0xff, der.length - 5) // inside the signature value: issuer name and key identifier are still kagi’s
    const res = await check({ [HEADER]: der.toString('base64') })
    t.match(res.body, /from someone else/)
    t.notMatch(res.body, /This device is ready/)
  })

  await t.test('no certificate: where it should be on this platform, in both languages', async (t) => {
    const mac = await check({})
    t.match(mac.body, /This browser did not send a certificate/)
    t.match(mac.body, /Keychain Access/)
    const windows = await check({ 'user-agent': ua.windows })
    t.match(windows.body, /Cert:\\CurrentUser\\My/)
    const android = await check({ 'user-agent': ua.android }, 'ja')
    t.match(android.body, /ユーザー認証情報/)
    for (const body of [mac.body, windows.body]) t.match(body, /Download again/)
  })

  await t.test('a machine certificate: said so, and where machine certificates are checked', async (t) => {
    const res = await check({ [HEADER]: escaped(erin.pem), 'user-agent': ua.windows })
    t.match(res.body, /This device is ready/)
    t.match(res.body, /Machine certificate \(for this computer, before sign-in\)/)
    t.match(res.body, /Cert:\\LocalMachine\\My/)
    t.match(res.body, /“Your devices” on the enrollment page: it says when the VPN last checked its certificate/)
  })
})

t.test('without KAGI_CHECK_CERT_HEADER the main app has no /check', async (t) => {
  const { app } = await build(t)
  t.equal((await app.inject({ url: '/check', remoteAddress: PROXY, headers: { [HEADER]: 'x' } })).statusCode, 404)
})

t.test('the install steps end with "check that it worked" when the page is configured', async (t) => {
  const { app } = await build(t, { env: { KAGI_PUBLIC_URL: 'http://127.0.0.1:3000', KAGI_CHECK_LISTEN: '127.0.0.1:8443', KAGI_CHECK_HOSTNAME: 'check.kagi.test' } })
  const page = new PageClient(app, { 'accept-language': 'en' })
  await page.devSignIn('alice@example.com')
  const home = await page.get('/')
  t.match(home.body, /Check that it worked: open <a href="https:\/\/check\.kagi\.test:8443\/check">https:\/\/check\.kagi\.test:8443\/check<\/a>/, 'every platform’s steps on the device page')
  const enrolled = await page.post('/enroll', { platform: 'macos', deviceName: 'MacBook', kind: 'user', hostname: '' })
  t.equal(enrolled.statusCode, 200)
  const steps = /<ol>([\s\S]*?)<\/ol>/.exec(enrolled.body)![1]!
  t.match(steps, /<li>Check that it worked: open <a href="https:\/\/check\.kagi\.test:8443\/check">[^<]*<\/a> in this device’s browser\.<\/li>$/, 'the download page’s steps end with it')
  const machine = await page.post('/enroll', { platform: 'windows', deviceName: 'PC', kind: 'device', hostname: 'alice-pc.corp.example.com' })
  t.match(/<ol>([\s\S]*?)<\/ol>/.exec(machine.body)![1]!, /a browser never shows a machine certificate[^<]*<a href="https:\/\/check\.kagi\.test:8443\/check">/, 'a machine certificate’s steps say where to look instead')

  const { app: plain } = await build(t, { env: { KAGI_PUBLIC_URL: 'http://127.0.0.1:3000' } })
  const other = new PageClient(plain, { 'accept-language': 'en' })
  await other.devSignIn('alice@example.com')
  t.notMatch((await other.get('/')).body, /Check that it worked/, 'no link when the page is off')
})

t.test('configuration: the check variables are validated', async (t) => {
  const base = { KAGI_DATA_DIR: '/tmp/x', KAGI_CA_PASSPHRASE: 'test-passphrase-0123456789' }
  t.throws(() => loadConfig({ ...base, KAGI_CHECK_LISTEN: '0.0.0.0:8443' }), /KAGI_CHECK_LISTEN needs KAGI_CHECK_HOSTNAME/)
  t.throws(() => loadConfig({ ...base, KAGI_CHECK_LISTEN: '8443', KAGI_CHECK_HOSTNAME: 'check.example.com' }), /KAGI_CHECK_LISTEN: must be host:port/)
  t.throws(() => loadConfig({ ...base, KAGI_CHECK_LISTEN: '0.0.0.0:70000', KAGI_CHECK_HOSTNAME: 'check.example.com' }), /KAGI_CHECK_LISTEN/)
  t.throws(() => loadConfig({ ...base, KAGI_CHECK_LISTEN: '0.0.0.0:8443', KAGI_CHECK_HOSTNAME: '10.0.0.1' }), /KAGI_CHECK_HOSTNAME: must be the DNS name/)
  t.throws(() => loadConfig({ ...base, KAGI_CHECK_CERT_HEADER: 'X-SSL-Client-Cert' }), /KAGI_CHECK_CERT_HEADER is read only from trusted proxies/)
  t.throws(() => loadConfig({ ...base, KAGI_CHECK_CERT_HEADER: 'bad header', KAGI_TRUST_PROXY: '10.0.0.1' }), /KAGI_CHECK_CERT_HEADER: must be an HTTP header name/)
  t.equal(loadConfig(base).check, undefined, 'off by default')
  t.same(loadConfig({ ...base, KAGI_CHECK_LISTEN: '[::]:443', KAGI_CHECK_HOSTNAME: 'Check.Example.com' }).check, { listen: { host: '::', port: 443 }, hostname: 'check.example.com', certHeader: undefined, url: 'https://check.example.com/check' })
  t.same(loadConfig({ ...base, KAGI_CHECK_CERT_HEADER: 'X-SSL-Client-Cert', KAGI_TRUST_PROXY: '10.0.0.1', KAGI_PUBLIC_URL: 'https://kagi.example.com' }).check?.url, 'https://kagi.example.com/check')
})
