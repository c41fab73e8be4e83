import t from 'tap'
import { join } from 'node:path'
import { derToPem } from '../../ca/index.js'
import { build } from '../helper.js'
import { run, tempDir } from '../support/openssl.js'

const url = (platform: string, query: string) => `/api/v1/mdm/profiles/${platform}?${query}`

t.test('an MDM fetches an iOS profile for a new device; fetching again does not pile up certificates', async (t) => {
  const { app, as, services } = await build(t, { env: { KAGI_GP_PORTAL: 'vpn.example.com' } })
  const first = await app.inject({ method: 'GET', url: url('ios', 'user=alice@example.com&device=F2LXK0ABCD'), headers: as.mdm })
  t.equal(first.statusCode, 200, first.body.slice(0, 200))
  t.equal(first.headers['content-type'], 'application/x-apple-aspen-config')
  t.match(first.headers['content-disposition'], /\.mobileconfig"/)
  t.equal(first.rawPayload[0], 0x30, 'signed by default (DER CMS)')
  // The profile-signing certificate chains to kagi's root; no `-purpose any` needed (emailProtection EKU).
  const dir = tempDir(t)
  const verified = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', dir.file('p.mobileconfig', first.rawPayload), '-CAfile', dir.file('root.pem', derToPem(services.ca.root.der, 'CERTIFICATE')), '-out', join(dir.dir, 'p.plist')])
  t.equal(verified.status, 0, verified.stderr)
  const serial = first.headers['x-kagi-serial'] as string
  const deviceId = first.headers['x-kagi-device-id'] as string
  const device = await services.db.selectFrom('device').selectAll().where('id', '=', deviceId).executeTakeFirstOrThrow()
  t.equal(device.serial_number, 'F2LXK0ABCD')
  t.equal(device.platform, 'ios')

  const again = await app.inject({ method: 'GET', url: url('ios', 'user=alice@example.com&device=F2LXK0ABCD'), headers: as.mdm })
  t.equal(again.statusCode, 409)
  t.equal(again.json().error.code, 'certificate_current')
  t.match(again.json().error.message, /renew=true/)

  const renewed = await app.inject({ method: 'GET', url: url('ios', `user=alice@example.com&device=${deviceId}&renew=true&signed=false`), headers: as.mdm })
  t.equal(renewed.statusCode, 200)
  t.match(renewed.body, /^<\?xml/, 'signed=false gives the plain plist')
  t.match(renewed.body, /com\.apple\.vpn\.managed/)
  t.match(renewed.body, /vpn\.example\.com/)
  const old = await services.db.selectFrom('certificate').selectAll().where('serial', '=', serial).executeTakeFirstOrThrow()
  t.equal(old.status, 'revoked')
  t.equal(old.revocation_reason, 'superseded')
  t.equal((await services.db.selectFrom('certificate').select('serial').where('status', '=', 'active').execute()).length, 1)
})

t.test('device profile for Windows needs a hostname; Android carries the password in a header', async (t) => {
  const { app, as } = await build(t)
  const noHost = await app.inject({ method: 'GET', url: url('windows', 'user=bob@example.com&device=PC-1&profile=device'), headers: as.mdm })
  t.equal(noHost.statusCode, 400)
  t.match(noHost.json().error.message, /hostname/)
  const ok = await app.inject({ method: 'GET', url: url('windows', 'user=bob@example.com&device=PC-1&profile=device&hostname=pc-1.corp.example.com'), headers: as.mdm })
  t.equal(ok.statusCode, 200)
  t.match(ok.headers['content-disposition'], /\.ps1"/)
  t.match(ok.body, /LocalMachine\\My/)
  const android = await app.inject({ method: 'GET', url: url('android', 'user=bob@example.com&device=R58N123'), headers: as.mdm })
  t.equal(android.statusCode, 200)
  t.equal(android.headers['content-type'], 'application/zip')
  t.match(android.headers['x-kagi-pkcs12-password'], /\S{8,}/)
})

t.test('bad requests get a 4xx with a message', async (t) => {
  const { app, as } = await build(t)
  const cases: [string, number, RegExp][] = [
    [url('beos', 'user=a@example.com&device=1'), 400, /platform must be one of/],
    [url('ios', 'device=1'), 400, /user/],
    [url('ios', 'user=a@example.com'), 400, /device/],
    [url('ios', 'user=a@example.com&device=1&profile=admin'), 400, /profile must be user or device/],
    [url('windows', 'user=a@example.com&device=1&delivery=scep'), 400, /delivery=scep is for Apple profiles/],
    [url('ios', 'user=a@example.com&device=1&delivery=scep&renew=true'), 400, /renew applies to delivery=pkcs12/],
    [url('ios', 'user=a@example.com&device=1&delivery=smime'), 400, /delivery must be pkcs12 or scep/],
    [url('ios', 'user=a@example.com&device=1&extra=1'), 400, /unknown query parameter/],
    [url('ios', 'user=not-an-email&device=1'), 400, /email/],
    [url('ios', 'user=a@example.com&device=00000000-0000-4000-8000-000000000000'), 404, /no device/],
  ]
  for (const [path, status, message] of cases) {
    const res = await app.inject({ method: 'GET', url: path, headers: as.mdm })
    t.equal(res.statusCode, status, path)
    t.match(res.json().error.message, message, path)
  }
  t.equal((await app.inject({ method: 'GET', url: url('ios', 'user=a@example.com&device=1') })).statusCode, 401)
})

t.test('POST /api/v1/certificates with "bundle" returns the bundle instead of the bare PKCS#12', async (t) => {
  const { app, as } = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/certificates',
    headers: as.admin,
    payload: { profile: 'user', user: 'erin@example.com', device: { name: 'Mac', platform: 'macos' }, bundle: 'macos', signed: false },
  })
  t.equal(res.statusCode, 201)
  const body = res.json()
  t.notOk(body.pkcs12)
  t.equal(body.bundle.platform, 'macos')
  t.equal(body.bundle.contentType, 'application/x-apple-aspen-config')
  t.match(Buffer.from(body.bundle.data, 'base64').toString('utf8'), /com\.apple\.security\.pkcs12/)
  const mismatch = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user: 'erin@example.com', device: { name: 'Mac', platform: 'macos' }, bundle: 'ios' } })
  t.equal(mismatch.statusCode, 400)
  const noDevice = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user: 'erin@example.com', bundle: 'ios' } })
  t.equal(noDevice.statusCode, 400)
  t.match(noDevice.json().error.message, /device/)
})
