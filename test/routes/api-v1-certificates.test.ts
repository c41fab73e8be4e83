import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { webcrypto } from 'node:crypto'
import t from 'tap'
import { build } from '../helper.js'
import { opensslCsr, run, tempDir } from '../support/openssl.js'

x509.cryptoProvider.set(webcrypto as Crypto)
const parse = (pem: string): x509.X509Certificate => new x509.X509Certificate(pem)

t.test('POST /api/v1/certificates', async (t) => {
  const { app, as, database } = await build(t)
  const dir = tempDir(t)
  const chain = await app.inject({ url: '/pki/chain.pem' })
  const [issuingPem, rootPem] = chain.body.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g)!
  const rootFile = dir.file('root.pem', rootPem!)
  const issuingFile = dir.file('issuing.pem', issuingPem!)

  await t.test('ok/user-from-csr: names from the request body, never the CSR', async (t) => {
    const csr = opensslCsr(dir.dir, 'ec:P-256', '/CN=mallory@evil.example')
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.mdm, payload: { profile: 'user', user: 'Alice@Example.com', csr } })
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    t.match(body.serial, /^[0-9a-f]{32}$/)
    t.notOk(body.pkcs12, 'no PKCS#12 when the client holds the key')
    t.equal(body.chain, chain.body)
    const cert = parse(body.certificate)
    t.equal(cert.subject, 'CN=alice@example.com')
    t.same(cert.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON(), [
      { type: 'email', value: 'alice@example.com' },
      { type: 'upn', value: 'alice@example.com' },
    ])
    t.equal(cert.getExtension(x509.AuthorityInfoAccessExtension)!.ocsp[0]!.value, 'http://kagi.test/ocsp')
    const v = run('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', rootFile, '-untrusted', issuingFile, dir.file('leaf.pem', body.certificate)])
    t.equal(v.status, 0, v.stdout + v.stderr)
    const audit = await database.db.selectFrom('audit_event').selectAll().where('serial', '=', body.serial).execute()
    t.equal(audit.length, 1, 'one audit event per issuance')
    t.equal(audit[0]!.actor, 'token:test-mdm')
    t.equal(audit[0]!.action, 'certificate.issued')
    const stored = await database.db.selectFrom('certificate').select(['der', 'profile', 'status']).where('serial', '=', body.serial).executeTakeFirstOrThrow()
    t.equal(Buffer.from(stored.der).toString('base64'), Buffer.from(cert.rawData).toString('base64'), 'stored DER is what was returned')
  })

  await t.test('ok/csr-as-der-base64-is-refused-with-a-message', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user: 'a@example.com', csr: 'MIIB' } })
    t.equal(res.statusCode, 400)
    t.match(res.json().error, { code: 'csr_invalid', message: /PEM/ })
  })

  await t.test('ok/server-generated-rsa-pkcs12', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user: 'bob@example.com' } })
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    t.match(body.pkcs12Password, /^[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){4}$/)
    t.equal(res.headers['cache-control'], 'no-store')
    const p12 = dir.file('bob.p12', Buffer.from(body.pkcs12, 'base64'))
    const info = run('openssl', ['pkcs12', '-info', '-noout', '-in', p12, '-passin', `pass:${body.pkcs12Password}`])
    t.equal(info.status, 0, info.stderr)
    const text = info.stdout + info.stderr
    t.match(text, /MAC: sha1/)
    t.match(text, /Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC/)
    t.match(text, /PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC/)
    const dump = run('openssl', ['pkcs12', '-in', p12, '-nodes', '-passin', `pass:${body.pkcs12Password}`])
    t.equal(dump.status, 0)
    t.equal((dump.stdout.match(/BEGIN CERTIFICATE/g) ?? []).length, 3, 'leaf + issuing + root')
    t.match(dump.stdout, /friendlyName: bob@example.com \(kagi\)/)
    t.match(dump.stdout, /BEGIN PRIVATE KEY/)
    const leaf = parse(body.certificate)
    t.equal((leaf.publicKey.algorithm as RsaHashedKeyAlgorithm).name, 'RSASSA-PKCS1-v1_5')
    t.equal(leaf.getExtension(x509.KeyUsagesExtension)!.usages, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment)
  })

  await t.test('ok/server-generated-ecdsa', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user: 'carol@example.com', keyType: 'ecdsa-p256' } })
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    const p12 = dir.file('carol.p12', Buffer.from(body.pkcs12, 'base64'))
    t.equal(run('openssl', ['pkcs12', '-info', '-noout', '-in', p12, '-passin', `pass:${body.pkcs12Password}`]).status, 0)
    t.equal(parse(body.certificate).getExtension(x509.KeyUsagesExtension)!.usages, x509.KeyUsageFlags.digitalSignature)
  })

  await t.test('ok/device-profile', async (t) => {
    const csr = opensslCsr(dir.dir, 'rsa:2048')
    const payload = { profile: 'device', user: 'alice@example.com', device: { name: "Alice's MacBook", platform: 'macos', hostname: 'alice-mbp.corp.example.com', serialNumber: 'C02XYZ' }, csr }
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload })
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    const cert = parse(body.certificate)
    t.equal(cert.subject, 'CN=alice-mbp.corp.example.com')
    t.same(cert.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON(), [
      { type: 'dns', value: 'alice-mbp.corp.example.com' },
      { type: 'url', value: `urn:kagi:device:${body.deviceId}` },
    ])
    const again = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload })
    t.equal(again.json().deviceId, body.deviceId, 'the same serial number finds the same device')
    const list = await app.inject({ url: '/api/v1/certificates?device=C02XYZ', headers: as.admin })
    t.equal(list.json().certificates.length, 2)
    t.equal(list.json().certificates[0].device.serialNumber, 'C02XYZ')
  })

  await t.test('fail/bad-requests-say-why', async (t) => {
    const rsa1024 = opensslCsr(dir.dir, 'rsa:1024')
    const p521 = opensslCsr(dir.dir, 'ec:P-521')
    const cases: [string, unknown, number, string, RegExp][] = [
      ['fail/unknown-profile', { profile: 'nope', user: 'a@example.com' }, 400, 'invalid_request', /profile must be user or device/],
      ['fail/no-user', { profile: 'user' }, 400, 'invalid_request', /user/],
      ['fail/bad-email', { profile: 'user', user: 'not an email' }, 400, 'invalid_request', /user must be an ASCII email/],
      ['fail/unknown-field', { profile: 'user', user: 'a@example.com', subject: 'CN=x' }, 400, 'invalid_request', /unknown field\(s\): subject/],
      ['fail/device-without-device', { profile: 'device', user: 'a@example.com' }, 400, 'profile_violation', /needs "device"/],
      ['fail/device-without-hostname', { profile: 'device', user: 'a@example.com', device: { name: 'x', platform: 'windows' } }, 400, 'profile_violation', /requires device.hostname/],
      ['fail/bad-platform', { profile: 'user', user: 'a@example.com', device: { name: 'x', platform: 'beos' } }, 400, 'invalid_request', /device.platform must be one of/],
      ['fail/rsa-1024', { profile: 'user', user: 'a@example.com', csr: rsa1024 }, 400, 'key_rejected', /1024 bits; at least 2048/],
      ['fail/p-521', { profile: 'user', user: 'a@example.com', csr: p521 }, 400, 'key_rejected', /secp521r1/],
      ['fail/csr-and-keytype', { profile: 'user', user: 'a@example.com', csr: rsa1024, keyType: 'rsa-2048' }, 400, 'bad_request', /keyType applies only/],
      ['fail/bad-keytype', { profile: 'user', user: 'a@example.com', keyType: 'dsa' }, 400, 'invalid_request', /keyType must be one of/],
    ]
    for (const [name, payload, status, code, message] of cases) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: payload as object })
      t.equal(res.statusCode, status, `${name}: ${res.body}`)
      t.match(res.json(), { error: { code, message } }, name)
    }
    const users = await database.db.selectFrom('app_user').select('email').execute()
    t.notOk(users.some((u) => u.email === 'not an email'), 'a refused request creates no user')
    const badJson = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: { ...as.admin, 'content-type': 'application/json' }, payload: '{"profile":' })
    t.equal(badJson.statusCode, 400)
    t.match(badJson.json(), { error: { code: 'bad_request', message: /not valid JSON/ } })
    t.notMatch(badJson.body, /at .*\.js:\d+/, 'no stack trace')
    const text = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: { ...as.admin, 'content-type': 'text/plain' }, payload: 'hi' })
    t.equal(text.statusCode, 415)
    t.match(text.json(), { error: { code: 'unsupported_media_type' } })
    const huge = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user: 'a@example.com', csr: 'x'.repeat(200_000) } })
    t.equal(huge.statusCode, 413)
  })

  await t.test('fail/auth', async (t) => {
    const none = await app.inject({ method: 'POST', url: '/api/v1/certificates', payload: { profile: 'user', user: 'a@example.com' } })
    t.equal(none.statusCode, 401)
    t.match(none.json(), { error: { code: 'unauthorized', message: /Bearer/ } })
    const wrong = await app.inject({ url: '/api/v1/certificates', headers: { authorization: 'Bearer kagi_nope' } })
    t.equal(wrong.statusCode, 401)
    const basic = await app.inject({ url: '/api/v1/certificates', headers: { authorization: 'Basic abc' } })
    t.equal(basic.statusCode, 401)
  })
})

t.test('GET /api/v1/certificates', async (t) => {
  let now = new Date()
  const { app, as } = await build(t, { clock: () => now })
  const dir = tempDir(t)
  const csr = opensslCsr(dir.dir, 'ec:P-256')
  const issue = async (user: string): Promise<string> => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user, csr } })
    t.equal(res.statusCode, 201, res.body)
    return res.json().serial
  }
  // One certificate issued 300 days ago (expires in ~65 days), one today.
  now = new Date(Date.now() - 300 * 86_400_000)
  const old = await issue('dave@example.com')
  now = new Date()
  const fresh = await issue('dave@example.com')
  await issue('erin@example.com')

  const get = async (query: string) => app.inject({ url: `/api/v1/certificates${query}`, headers: as.admin })
  t.equal((await get('')).json().certificates.length, 3)
  const dave = (await get('?user=DAVE@example.com')).json().certificates
  t.same(dave.map((c: { serial: string }) => c.serial).sort(), [old, fresh].sort())
  t.same((await get('?expiringWithinDays=90')).json().certificates.map((c: { serial: string }) => c.serial), [old])
  t.equal((await get('?status=active')).json().certificates.length, 3)
  t.equal((await get('?status=revoked')).json().certificates.length, 0)
  t.equal((await get('?limit=1')).json().certificates.length, 1)
  const one = await app.inject({ url: `/api/v1/certificates/${fresh.toUpperCase()}`, headers: as.mdm })
  t.equal(one.statusCode, 200)
  t.match(one.json(), { serial: fresh, profile: 'user', user: 'dave@example.com', status: 'active', device: null, keyType: 'ecdsa-p256', certificate: /BEGIN CERTIFICATE/ })
  const missing = await app.inject({ url: `/api/v1/certificates/${'ab'.repeat(16)}`, headers: as.admin })
  t.equal(missing.statusCode, 404)
  t.match(missing.json(), { error: { code: 'not_found' } })
  const bad = await app.inject({ url: '/api/v1/certificates/xyz', headers: as.admin })
  t.equal(bad.statusCode, 400)
  const badQuery = await get('?status=lost')
  t.equal(badQuery.statusCode, 400)
  t.match(badQuery.json(), { error: { message: /status must be active, revoked or expired/ } })
  t.equal((await get('?foo=1')).statusCode, 400)
})

t.test('public PKI endpoints', async (t) => {
  const { app, services } = await build(t)
  for (const [path, der] of [['/pki/root.crt', services.ca.root.der], ['/pki/issuing.crt', services.ca.issuing.der]] as const) {
    const res = await app.inject({ url: path })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-type'], 'application/pkix-cert')
    t.ok(res.rawPayload.equals(der), `${path} is the DER certificate`)
  }
  const chain = await app.inject({ url: '/pki/chain.pem' })
  const certs = chain.body.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)!
  t.equal(certs.length, 2)
  t.match(parse(certs[0]!).subject, /Issuing CA/, 'issuing first')
  t.match(parse(certs[1]!).subject, /Root CA/, 'then root')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
  const nf = await app.inject({ url: '/nope', headers: { accept: 'application/json' } })
  t.equal(nf.statusCode, 404)
  t.match(nf.json(), { error: { code: 'not_found' } })
  t.equal((await app.inject({ url: '/api/v1/nope' })).json().error.code, 'not_found', 'the API answers JSON whatever the Accept header')
})
