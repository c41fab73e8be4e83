import t from 'tap'
import { build } from '../helper.js'
import { PageClient } from '../support/session.js'
import { buildApp } from '../../src/app.js'

const MAC_UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15'
const WINDOWS_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'


// The development sign-in exists only when the listener and the public URL are both loopback.
const onLoopback = { env: { KAGI_PUBLIC_URL: 'http://127.0.0.1:3000' } }

t.test('before sign-in: the development sign-in, labelled, with safe headers', async (t) => {
  const { app } = await build(t, onLoopback)
  const page = new PageClient(app)
  const res = await page.get('/')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, /Development sign-in/)
  t.match(res.body, /Never use this in production/)
  t.match(res.headers['content-security-policy'], /default-src 'none'/)
  t.equal(res.headers['x-frame-options'], 'DENY')
  t.equal(res.headers['cache-control'], 'no-store')
  t.notMatch(res.body, /https?:\/\/(?!127\.0\.0\.1)[a-z]/i, 'no third-party URLs in the page')
  const cookie = String(res.headers['set-cookie'])
  t.match(cookie, /kagi_session=/)
  t.match(cookie, /HttpOnly/)
  t.match(cookie, /SameSite=Lax/)
})

t.test('Japanese from Accept-Language, and the switch', async (t) => {
  const { app } = await build(t, onLoopback)
  const page = new PageClient(app, { 'accept-language': 'ja,en-US;q=0.8' })
  t.match((await page.get('/')).body, /開発用サインイン/)
  const toEnglish = await page.get('/lang/en?back=/')
  t.equal(toEnglish.statusCode, 303)
  t.match((await page.get('/')).body, /Development sign-in/)
  t.equal((await page.get('/lang/ja?back=//evil.example')).headers.location, '/', 'no open redirect')
})

t.test('CSRF: a form post without the token is refused', async (t) => {
  const { app } = await build(t, onLoopback)
  const page = new PageClient(app)
  await page.get('/')
  const bad = await page.post('/auth/dev-login', { email: 'アリス@example.com' })
  t.equal(bad.statusCode, 400, 'an email that cannot go into a certificate is refused')
  const res = await page.post('/auth/dev-login', { email: 'alice@example.com', _csrf: '' })
  t.equal(res.statusCode, 403)
  t.match(res.body, /form has expired/)
  t.notMatch(res.body, /at .*\.ts:\d+/, 'no stack trace')
})

t.test('sign in, enroll this Mac, download a signed profile, see the device', async (t) => {
  const { app, services } = await build(t, onLoopback)
  const page = new PageClient(app, { 'user-agent': MAC_UA })
  const signIn = await page.devSignIn('Alice@Example.com')
  t.equal(signIn.statusCode, 303)
  const home = await page.get('/')
  t.ok(Buffer.byteLength(home.body) < 100 * 1024, `signed-in page ${Buffer.byteLength(home.body)} bytes, with its CSS and every platform's steps`)
  t.match(home.body, /alice@example\.com/)
  t.match(home.body, /<option value="macos" selected>macOS \(detected\)/)
  t.notMatch(home.body, /href="\/admin"/, 'no admin link for a non-admin')
  const enrolled = await page.post('/enroll', { platform: 'macos', deviceName: 'MacBook Pro 14', kind: 'user', hostname: '' })
  t.equal(enrolled.statusCode, 200)
  t.ok(Buffer.byteLength(enrolled.body) < 100 * 1024, `ready page ${Buffer.byteLength(enrolled.body)} bytes < 100 KB`)
  const link = /href="data:([^;]+);base64,([^"]+)" download="([^"]+)"/.exec(enrolled.body)
  t.ok(link, 'a download link')
  t.equal(link![1], 'application/x-apple-aspen-config')
  t.match(link![3], /\.mobileconfig$/)
  const body = Buffer.from(link![2]!, 'base64')
  t.equal(body[0], 0x30, 'signed: DER CMS')
  t.notMatch(enrolled.body, /pkcs12-password/, 'no password shown for macOS (it is inside the profile)')
  t.match(enrolled.body, /PXPZ95SK77|system extension|System Settings/i, 'macOS steps mention the system extension')
  const rows = await services.db.selectFrom('certificate').select(['serial', 'profile', 'status', 'device_id']).execute()
  t.equal(rows.length, 1)
  t.equal(rows[0]!.profile, 'user')
  const again = await page.get('/')
  t.match(again.body, /MacBook Pro 14/)
  t.match(again.body, new RegExp(rows[0]!.serial.slice(0, 12)))
})

t.test('Android shows the one-time password; Windows gets a script', async (t) => {
  const { app } = await build(t, onLoopback)
  const page = new PageClient(app, { 'user-agent': WINDOWS_UA })
  await page.devSignIn('bob@example.com')
  t.match((await page.get('/')).body, /<option value="windows" selected>/)
  const android = await page.post('/enroll', { platform: 'android', deviceName: 'Pixel 8', kind: 'user' })
  t.equal(android.statusCode, 200)
  t.match(android.body, /id="pkcs12-password">[A-Za-z0-9-]{8,}</)
  const windows = await page.post('/enroll', { platform: 'windows', deviceName: 'ThinkPad', kind: 'device', hostname: 'bob-tp.corp.example.com' })
  t.equal(windows.statusCode, 200)
  t.match(windows.body, /download="[^"]+\.ps1"/)
  t.notMatch(windows.body, /pkcs12-password/)
})

t.test('form errors come back as the form with a message and 400', async (t) => {
  const { app, services } = await build(t, onLoopback)
  const page = new PageClient(app)
  await page.devSignIn('carol@example.com')
  await page.get('/')
  const noName = await page.post('/enroll', { platform: 'ios', deviceName: ' ', kind: 'user' })
  t.equal(noName.statusCode, 400)
  t.match(noName.body, /the device name is required|the device name must not be empty/)
  const noHost = await page.post('/enroll', { platform: 'macos', deviceName: 'Mac', kind: 'device' })
  t.equal(noHost.statusCode, 400)
  t.match(noHost.body, /hostname/)
  t.match(noHost.body, /value="Mac"/, 'the form keeps what was typed')
  const badPlatform = await page.post('/enroll', { platform: 'beos', deviceName: 'Box', kind: 'user' })
  t.equal(badPlatform.statusCode, 400)
  t.equal((await services.db.selectFrom('certificate').select('serial').execute()).length, 0, 'nothing issued')
})

t.test('enrollment needs a session', async (t) => {
  const { app } = await build(t, onLoopback)
  const page = new PageClient(app)
  await page.get('/')
  const res = await page.post('/enroll', { platform: 'ios', deviceName: 'x', kind: 'user' })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/')
})

t.test('"I lost this device" revokes its certificates (keyCompromise), only for the owner', async (t) => {
  const { app, services } = await build(t, onLoopback)
  const alice = new PageClient(app)
  await alice.devSignIn('alice@example.com')
  await alice.get('/')
  await alice.post('/enroll', { platform: 'ios', deviceName: 'iPhone', kind: 'user' })
  const device = await services.db.selectFrom('device').selectAll().executeTakeFirstOrThrow()
  const mallory = new PageClient(app)
  await mallory.devSignIn('mallory@example.com')
  await mallory.get('/')
  const foreign = await mallory.post(`/devices/${device.id}/lost`, { confirm: 'yes' })
  t.equal(foreign.statusCode, 404, "another user's device is not found")
  t.match(foreign.body, /That did not work/)
  t.match(foreign.body, /no such device among yours/)
  t.equal((await mallory.post('/devices/not-a-uuid/lost', { confirm: 'yes' })).statusCode, 404)
  await alice.get('/')
  t.equal((await alice.post(`/devices/${device.id}/lost`, {})).statusCode, 400, 'needs the confirmation')
  const lost = await alice.post(`/devices/${device.id}/lost`, { confirm: 'yes' })
  t.equal(lost.statusCode, 303)
  const cert = await services.db.selectFrom('certificate').selectAll().executeTakeFirstOrThrow()
  t.equal(cert.status, 'revoked')
  t.equal(cert.revocation_reason, 'keyCompromise')
  const home = await alice.get('/')
  t.match(home.body, /Revoked 1 certificate/)
  t.match(home.body, /revoked/)
  const audit = await services.db.selectFrom('audit_event').select(['actor', 'action']).where('action', '=', 'certificate.revoked').execute()
  t.same(audit.map((a) => a.actor), ['user:alice@example.com'])
})

t.test('admins see the admin link; sign-out ends the session', async (t) => {
  const { app } = await build(t, onLoopback)
  const page = new PageClient(app)
  await page.devSignIn('root@example.com', true)
  const home = await page.get('/')
  t.match(home.body, /href="\/admin"/)
  const out = await page.post('/auth/logout', {})
  t.equal(out.statusCode, 303)
  t.match((await page.get('/')).body, /Development sign-in/)
})

t.test('idle timeout ends the session', async (t) => {
  const { app } = await build(t, { env: { ...onLoopback.env, KAGI_SESSION_IDLE: '5m' } })
  const page = new PageClient(app)
  await page.devSignIn('dave@example.com')
  t.match((await page.get('/')).body, /dave@example\.com/)
  const realNow = Date.now
  Date.now = () => realNow() + 6 * 60_000
  t.teardown(() => (Date.now = realNow))
  const later = await page.get('/')
  Date.now = realNow
  t.match(later.body, /Your session ended/)
  t.notMatch(later.body, /dave@example\.com/)
})

t.test('the owner downloads a new bundle for a device; others and other sites cannot', async (t) => {
  const { app, services } = await build(t, onLoopback)
  const alice = new PageClient(app)
  await alice.devSignIn('alice@example.com')
  await alice.get('/')
  await alice.post('/enroll', { platform: 'chromeos', deviceName: 'Chromebook', kind: 'user' })
  const device = await services.db.selectFrom('device').selectAll().executeTakeFirstOrThrow()
  const res = await alice.get(`/api/v1/devices/${device.id}/bundle`)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'application/x-onc')
  t.match(res.headers['content-disposition'], /attachment; filename=".+\.onc"/)
  const onc = JSON.parse(res.body)
  t.equal(onc.Type, 'UnencryptedConfiguration')
  const certs = await services.db.selectFrom('certificate').select(['serial', 'status', 'revocation_reason']).orderBy('issued_at').execute()
  t.same(certs.map((c) => c.status), ['revoked', 'active'], 'the previous certificate is superseded')
  t.equal(certs[0]!.revocation_reason, 'superseded')
  t.equal((await alice.get(`/api/v1/devices/${device.id}/bundle`, { 'sec-fetch-site': 'cross-site' })).statusCode, 403)
  t.equal((await alice.get(`/api/v1/devices/${device.id}/bundle?platform=beos`)).statusCode, 400)
  const anonymous = await app.inject({ method: 'GET', url: `/api/v1/devices/${device.id}/bundle` })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.json().error.code, 'unauthorized')
  const bob = new PageClient(app)
  await bob.devSignIn('bob@example.com')
  t.equal((await bob.get(`/api/v1/devices/${device.id}/bundle`)).statusCode, 404)
})

t.test('no SAML: production refuses to start; a non-loopback listener offers no sign-in', async (t) => {
  const prod = await build(t, onLoopback)
  const production = { ...prod.services, config: { ...prod.services.config, production: true } }
  await t.rejects(buildApp(production), { message: /NODE_ENV=production requires SAML/ })
  const exposed = { ...prod.services, config: { ...prod.services.config, host: '0.0.0.0' } }
  const app = await buildApp(exposed)
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/' })
  t.match(res.body, /Sign-in is not configured/)
  const metadata = await app.inject({ method: 'GET', url: '/auth/saml/metadata' })
  t.equal(metadata.statusCode, 200, 'SP metadata is there to register kagi at the IdP before SAML is configured')
  t.match(metadata.body, 'entityID="http://127.0.0.1:3000/auth/saml/metadata"')
  t.equal((await app.inject({ method: 'POST', url: '/auth/dev-login', payload: 'email=a@b.co', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).statusCode, 404)
})

t.test('behind a reverse proxy (loopback listener, public URL elsewhere) the development sign-in is not offered', async (t) => {
  const { app } = await build(t, { env: { HOST: '127.0.0.1', KAGI_PUBLIC_URL: 'https://kagi.example.com' } })
  const res = await app.inject({ method: 'GET', url: '/' })
  t.notMatch(res.body, /Development sign-in/)
  t.match(res.body, /Sign-in is not configured/)
  const post = await app.inject({ method: 'POST', url: '/auth/dev-login', payload: 'email=mallory@example.com&admin=yes', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(post.statusCode, 404, 'no such route')
  t.notMatch(post.headers['set-cookie'] ?? '', /kagi_session/)
})

t.test('enrollment is rate limited per signed-in user, not per address: a colleague behind the same NAT is not affected', async (t) => {
  const { app } = await build(t, onLoopback)
  const alice = new PageClient(app)
  const bob = new PageClient(app)
  await alice.devSignIn('alice@example.com')
  await bob.devSignIn('bob@example.com')
  await alice.get('/')
  await bob.get('/')
  const bogus = '00000000-0000-4000-8000-000000000000'
  const statuses: number[] = []
  for (let i = 0; i < 11; i++) statuses.push((await alice.post(`/devices/${bogus}/renew`, {})).statusCode)
  t.same(statuses.slice(0, 10), Array(10).fill(404), 'ten attempts answer (no such device)')
  t.equal(statuses[10], 429, 'the eleventh in a minute is refused')
  t.equal((await bob.post(`/devices/${bogus}/renew`, {})).statusCode, 404, 'another user from the same address still gets through')
})

t.test('redirect targets stay on kagi; odd bytes in a query string never give a 5xx', async (t) => {
  const { app } = await build(t, onLoopback)
  const hostile = ['/%09/evil.example', '//evil.example', '/%5Cevil.example', '/%5C%5Cevil.example', 'https://evil.example/', '/%0d%0aSet-Cookie:%20x=y', '%2F%2Fevil.example', '/%00', '/%E3%81%82', '/\t/evil.example']
  for (const back of hostile) {
    const res = await app.inject({ method: 'GET', url: `/lang/ja?back=${back}` })
    t.equal(res.statusCode, 303, `${back}: a redirect`)
    const location = String(res.headers.location)
    t.ok(location.startsWith('/') && !location.startsWith('//') && !location.startsWith('/\\'), `${back}: to a kagi path (${location})`)
    t.notMatch(location, /[\u0000-\u001f\u007f\\]/, `${back}: nothing a browser would strip or turn around`)
    t.notOk(res.headers['set-cookie']?.toString().includes('x=y'), `${back}: no header injection`)
  }
  t.equal((await app.inject({ method: 'GET', url: '/lang/ja?back=/devices%3Fa%3D1' })).headers.location, '/devices?a=1', 'a real kagi path with a query is kept')
  for (const url of ['/?x=%00', '/?x=%0a', '/?%E3%81%82', '/?x=%E3%81', '/?x=%ZZ', '/lang/ja?back=%ED%A0%80', '/auth/saml/metadata?%00', '/api/v1/certificates?status=%00', '/ca.pem?x=%0a']) {
    const res = await app.inject({ method: 'GET', url })
    t.ok(res.statusCode < 500, `${url}: ${res.statusCode}`)
  }
})

t.test('browsers get error pages in their language; the API, OCSP and JSON clients get JSON', async (t) => {
  const { app } = await build(t, onLoopback)
  const ja = await app.inject({ method: 'GET', url: '/no-such-page', headers: { accept: 'text/html', 'accept-language': 'ja' } })
  t.equal(ja.statusCode, 404)
  t.match(ja.headers['content-type'], /text\/html/)
  t.match(ja.body, /<html lang="ja">/)
  t.match(ja.body, /このアドレスのページはありません/)
  t.match(ja.headers['content-security-policy'], /default-src 'none'/)
  const en = await app.inject({ method: 'GET', url: '/no-such-page' })
  t.match(en.body, /There is no page at this address/)
  for (const [url, accept] of [['/api/v1/nothing', 'text/html'], ['/scep?operation=GetCACaps', 'text/html'], ['/no-such-page', 'application/json']] as const) {
    const res = await app.inject({ method: 'GET', url, headers: { accept } })
    t.match(res.headers['content-type'], /application\/json/, `${url} (${accept}): JSON`)
    t.type(res.json().error.code, 'string')
  }
  const ocsp = await app.inject({ method: 'POST', url: '/ocsp', payload: '<p>', headers: { 'content-type': 'text/html', accept: 'text/html' } })
  t.equal(ocsp.statusCode, 415)
  t.match(ocsp.headers['content-type'], /application\/json/, 'OCSP clients get JSON errors')
})

t.test('anonymous posts count in their own bucket: they never use up a signed-in employee\'s', async (t) => {
  const { app } = await build(t, onLoopback)
  const anonymous = new PageClient(app)
  await anonymous.get('/')
  for (let i = 0; i < 12; i++) await anonymous.post('/enroll', { platform: 'macos', deviceName: 'x', kind: 'user' })
  t.equal((await anonymous.post('/enroll', { platform: 'macos', deviceName: 'x', kind: 'user' })).statusCode, 429, 'the anonymous bucket is spent')
  const alice = new PageClient(app)
  await alice.devSignIn('alice@example.com')
  await alice.get('/')
  const res = await alice.post('/enroll', { platform: 'macos', deviceName: 'MacBook', kind: 'user' })
  t.equal(res.statusCode, 200, 'the employee from the same address enrolls')
})
