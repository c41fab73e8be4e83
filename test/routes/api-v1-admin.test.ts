import 'reflect-metadata'
import { spawnSync } from 'node:child_process'
import t, { type Test } from 'tap'
import { tokenAuth } from '../../src/auth/bearer.js'
import { insertSessionRecord } from '../../src/db/session-repository.js'
import { adminDeviceRoutes } from '../../src/routes/api-v1-admin-devices.js'
import { auditRoutes } from '../../src/routes/api-v1-audit.js'
import { userRoutes } from '../../src/routes/api-v1-users.js'
import { csvCell, toCsv } from '../../src/routes/csv.js'
import { build, type TestApp } from '../helper.js'

/** Python's csv module reads the export (an independent RFC 4180 reader): header + rows as arrays. */
function pythonCsv(t: Test, text: string): string[][] {
  const r = spawnSync('python3', ['-c', 'import csv, io, json, sys; print(json.dumps(list(csv.reader(io.StringIO(sys.stdin.read(), newline="")))))'], { input: text, encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout) as string[][]
}

/** The rows as objects keyed by the header. */
function records(t: Test, text: string): Record<string, string>[] {
  const [header, ...rows] = pythonCsv(t, text)
  return rows.map((row) => Object.fromEntries(header!.map((h, i) => [h, row[i]!])))
}

/** The app with the admin routes (registered here until src/app.ts registers them). */
async function adminApp(t: Test): Promise<TestApp> {
  const kagi = await build(t)
  const requireToken = tokenAuth(kagi.services.db)
  const options = { services: kagi.services, requireToken }
  if (!kagi.app.hasRoute({ method: 'GET', url: '/api/v1/users' })) await kagi.app.register(userRoutes, options)
  if (!kagi.app.hasRoute({ method: 'GET', url: '/api/v1/devices' })) await kagi.app.register(adminDeviceRoutes, options)
  if (!kagi.app.hasRoute({ method: 'GET', url: '/api/v1/audit' })) await kagi.app.register(auditRoutes, options)
  return kagi
}

t.test('csv writer', async (t) => {
  t.equal(csvCell('plain'), '"plain"')
  t.equal(csvCell('say "hi", then\r\nleave'), '"say ""hi"", then\r\nleave"')
  t.equal(csvCell(null), '""')
  t.equal(csvCell(3), '"3"')
  t.equal(csvCell(new Date(Date.UTC(2026, 0, 2, 3, 4, 5))), '"2026-01-02T03:04:05.000Z"')
  for (const evil of ['=1+1', '+1', '-1', '@SUM(A1)', '\t=1', '\r=1', '  =1']) t.equal(csvCell(evil), `"'${evil}"`, `neutralised: ${JSON.stringify(evil)}`)
  t.equal(csvCell('a=b'), '"a=b"', 'only at the start')
  t.equal(toCsv([{ header: 'x', value: (r: string) => r }], ['1', '2']), '"x"\r\n"1"\r\n"2"\r\n')
})

t.test('admin API: users, devices, audit, offboarding, CSV', async (t) => {
  const kagi = await adminApp(t)
  const { app, as } = kagi
  const issue = async (user: string, device?: object) => {
    const payload = device ? { profile: 'device', user, device, keyType: 'ecdsa-p256' } : { profile: 'user', user, keyType: 'ecdsa-p256' }
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload })
    t.equal(res.statusCode, 201, res.body)
    return res.json() as { serial: string; deviceId?: string }
  }
  const evilName = '=HYPERLINK("http://evil.example","click")'
  const mac = await issue('alice@example.com', { name: evilName, platform: 'macos', hostname: 'alice-mac.corp.example.com', serialNumber: 'C02ABC' })
  const alice = await issue('alice@example.com')
  const pc = await issue('alice@example.com', { name: '@SUM(1,2)', platform: 'windows', hostname: 'alice-pc.corp.example.com', serialNumber: '-SN1' })
  const bob = await issue('bob@example.com', { name: 'Bob, "the" PC', platform: 'windows', hostname: 'bob-pc.corp.example.com' })
  await insertSessionRecord(kagi.services.db, { id: 'sess-1', email: 'alice@example.com', via: 'saml', admin: false }, new Date())
  const get = (url: string, headers: Record<string, string> = as.admin) => app.inject({ url, headers })

  await t.test('ok/users', async (t) => {
    const res = await get('/api/v1/users?q=ALI')
    t.equal(res.statusCode, 200, res.body)
    t.match(res.json(), { users: [{ email: 'alice@example.com', devices: 2, activeCertificates: 3 }], total: 1, limit: 100, offset: 0 })
    t.equal((await get('/api/v1/users?limit=1&offset=1')).json().users[0].email, 'bob@example.com', 'paging, by email')
    const detail = await get('/api/v1/users/Alice%40example.com')
    t.equal(detail.statusCode, 200, detail.body)
    t.match(detail.json(), { user: { email: 'alice@example.com' }, signIns: [{ id: 'sess-1', via: 'saml' }] })
    t.equal(detail.json().devices.length, 2)
    t.equal(detail.json().certificates.length, 3)
    t.equal((await get('/api/v1/users/nobody%40example.com')).statusCode, 404)
  })

  await t.test('ok/devices', async (t) => {
    const res = await get('/api/v1/devices?q=alice-&platform=macos')
    t.equal(res.statusCode, 200, res.body)
    t.match(res.json().devices, [{ id: mac.deviceId, name: evilName, platform: 'macos', hostname: 'alice-mac.corp.example.com', serialNumber: 'C02ABC', user: 'alice@example.com', activeCertificates: 1 }])
    t.equal((await get(`/api/v1/devices?q=${pc.serial.slice(0, 8)}`)).json().devices[0].id, pc.deviceId, 'by certificate serial')
    t.equal((await get('/api/v1/devices?user=bob%40example.com')).json().total, 1)
    const detail = await get(`/api/v1/devices/${mac.deviceId}`)
    t.equal(detail.statusCode, 200)
    t.match(detail.json(), { device: { id: mac.deviceId }, certificates: [{ serial: mac.serial, status: 'active' }], history: [{ action: 'certificate.issued', serial: mac.serial }] })
    t.equal((await get('/api/v1/devices/00000000-0000-4000-8000-000000000000')).statusCode, 404)
    t.equal((await get('/api/v1/devices/nope')).statusCode, 404)
    const bundle = await get(`/api/v1/devices/${mac.deviceId}/bundle`)
    t.equal(bundle.statusCode, 401, 'the owner download is still its own route (for the signed-in owner)')
    t.match(bundle.json().error.message, /sign in/)
  })

  await t.test('fail/validation and roles', async (t) => {
    const cases: [string, string, number, RegExp][] = [
      ['fail/unknown-parameter', '/api/v1/users?x=1', 400, /unknown query parameter\(s\): x/],
      ['fail/limit-too-big', '/api/v1/devices?limit=5000', 400, /limit must be at most 1000/],
      ['fail/limit-zero', '/api/v1/users?limit=0', 400, /limit/],
      ['fail/bad-platform', '/api/v1/devices?platform=beos', 400, /platform must be one of/],
      ['fail/bad-user', '/api/v1/devices?user=not-an-email', 400, /user must be an ASCII email/],
      ['fail/bad-format', '/api/v1/audit?format=xml', 400, /format must be json or csv/],
      ['fail/bad-since', '/api/v1/audit?since=yesterday', 400, /since must be an ISO 8601/],
      ['fail/bad-device', '/api/v1/audit?device=abc', 400, /device must be a device id/],
      ['fail/bad-email-param', '/api/v1/users/nobody', 400, /email must be an ASCII email/],
      ['fail/control-character', '/api/v1/users?q=a%01b', 400, /q contains a character that is not allowed/],
      ['fail/cert-list-format', '/api/v1/certificates?format=pdf', 400, /format must be json or csv/],
    ]
    for (const [name, url, status, message] of cases) {
      const r = await get(url)
      t.equal(r.statusCode, status, `${name}: ${r.body}`)
      t.match(r.json().error.message, message, name)
    }
    for (const [method, url] of [
      ['GET', '/api/v1/users'],
      ['GET', '/api/v1/users/alice%40example.com'],
      ['POST', '/api/v1/users/alice%40example.com/revoke'],
      ['GET', '/api/v1/devices'],
      ['GET', `/api/v1/devices/${mac.deviceId}`],
      ['POST', `/api/v1/devices/${mac.deviceId}/revoke`],
      ['GET', '/api/v1/audit'],
    ] as const) {
      const mdm = await app.inject({ method, url, headers: as.mdm, payload: method === 'POST' ? {} : undefined })
      t.equal(mdm.statusCode, 403, `mdm token: ${method} ${url}`)
      t.equal((await app.inject({ method, url, payload: method === 'POST' ? {} : undefined })).statusCode, 401, `no token: ${method} ${url}`)
    }
    const badReason = await app.inject({ method: 'POST', url: `/api/v1/devices/${mac.deviceId}/revoke`, headers: as.admin, payload: { reason: 'lost' } })
    t.equal(badReason.statusCode, 400)
    t.match(badReason.json().error.message, /reason must be one of/)
    const extra = await app.inject({ method: 'POST', url: '/api/v1/users/alice%40example.com/revoke', headers: as.admin, payload: { reason: 'keyCompromise', now: true } })
    t.equal(extra.statusCode, 400)
  })

  await t.test('ok/csv exports round-trip the filters', async (t) => {
    const devices = await get('/api/v1/devices?format=csv&user=alice%40example.com')
    t.equal(devices.statusCode, 200, devices.body)
    t.equal(devices.headers['content-type'], 'text/csv; charset=utf-8')
    t.match(devices.headers['content-disposition'], /attachment; filename="devices.csv"/)
    const rows = records(t, devices.body)
    t.same(rows.map((r) => r.id).sort(), [mac.deviceId, pc.deviceId].sort(), 'the same filter as JSON')
    t.same(pythonCsv(t, devices.body)[0], ['id', 'name', 'platform', 'hostname', 'serialNumber', 'user', 'displayName', 'activeCertificates', 'createdAt'])
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]))
    t.equal(byId[mac.deviceId!]!.name, `'${evilName}`, 'a formula is neutralised')
    t.equal(byId[pc.deviceId!]!.name, "'@SUM(1,2)")
    t.equal(byId[pc.deviceId!]!.serialNumber, "'-SN1")
    t.equal(byId[mac.deviceId!]!.activeCertificates, '1')
    const json = (await get('/api/v1/devices?user=alice%40example.com')).json().devices
    t.same(rows.map((r) => r.createdAt).sort(), json.map((d: { createdAt: string }) => d.createdAt).sort(), 'the same rows as JSON')

    const accept = await get('/api/v1/devices?q=bob', { ...as.admin, accept: 'text/csv' })
    t.equal(accept.headers['content-type'], 'text/csv; charset=utf-8', 'Accept: text/csv')
    t.same(records(t, accept.body).map((r) => r.name), ['Bob, "the" PC'], 'commas and quotes survive')

    const users = records(t, (await get('/api/v1/users?format=csv&q=b')).body)
    t.same(users.map((u) => [u.email, u.devices, u.activeCertificates]), [['bob@example.com', '1', '1']])

    const certificates = await get('/api/v1/certificates?format=csv&user=alice%40example.com&status=active')
    t.equal(certificates.statusCode, 200, certificates.body)
    const certRows = records(t, certificates.body)
    t.same(certRows.map((c) => c.serial).sort(), [mac.serial, alice.serial, pc.serial].sort())
    t.equal(certRows.find((c) => c.serial === mac.serial)!.deviceName, `'${evilName}`)
    t.equal(certRows.find((c) => c.serial === alice.serial)!.deviceId, '', 'no device: an empty cell')
    t.equal(records(t, (await get('/api/v1/certificates?format=csv&limit=1')).body).length, 1, 'paging applies')
    t.equal((await get('/api/v1/certificates?format=csv&limit=5000')).statusCode, 200, 'an export may be longer than a page')
    t.equal((await get('/api/v1/certificates', { ...as.mdm, accept: 'text/csv' })).headers['content-type'], 'text/csv; charset=utf-8', 'the MDM token may list certificates as before')
    t.equal((await get('/api/v1/certificates?limit=5000')).statusCode, 400, 'JSON keeps its page limit')
  })

  await t.test('ok/revoke a device, then a user', async (t) => {
    const device = await app.inject({ method: 'POST', url: `/api/v1/devices/${mac.deviceId}/revoke`, headers: as.admin, payload: {} })
    t.equal(device.statusCode, 200, device.body)
    t.same(device.json(), { revoked: [mac.serial] })
    const row = await kagi.services.db.selectFrom('certificate').select(['status', 'revocation_reason']).where('serial', '=', mac.serial).executeTakeFirstOrThrow()
    t.same(row, { status: 'revoked', revocation_reason: 'keyCompromise' }, 'default reason keyCompromise')
    t.same((await app.inject({ method: 'POST', url: `/api/v1/devices/${mac.deviceId}/revoke`, headers: as.admin })).json(), { revoked: [] }, 'no body, nothing left')
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/devices/00000000-0000-4000-8000-000000000000/revoke', headers: as.admin, payload: {} })).statusCode, 404)

    const user = await app.inject({ method: 'POST', url: '/api/v1/users/alice%40example.com/revoke', headers: as.admin, payload: {} })
    t.equal(user.statusCode, 200, user.body)
    t.same(user.json().revoked.sort(), [alice.serial, pc.serial].sort())
    const reasons = await kagi.services.db.selectFrom('certificate').select('revocation_reason').where('serial', 'in', [alice.serial, pc.serial]).execute()
    t.ok(reasons.every((r) => r.revocation_reason === 'affiliationChanged'), 'default reason affiliationChanged')
    t.equal((await get('/api/v1/users/alice%40example.com')).json().signIns[0].endReason, 'ended-by-admin', 'sessions ended')
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/users/nobody%40example.com/revoke', headers: as.admin, payload: {} })).statusCode, 404)
    t.same((await get(`/api/v1/devices?q=bob`)).json().devices[0].activeCertificates, 1, "bob's device untouched")
    void bob
  })

  await t.test('ok/audit', async (t) => {
    const res = await get('/api/v1/audit?type=certificate.revoked&actor=token%3Atest-admin')
    t.equal(res.statusCode, 200, res.body)
    t.equal(res.json().events.length, 3)
    t.ok(res.json().events.every((e: { action: string }) => e.action === 'certificate.revoked'))
    const device = (await get(`/api/v1/audit?device=${mac.deviceId}`)).json().events.map((e: { action: string }) => e.action)
    t.same(device, ['device.revoked', 'device.revoked', 'certificate.revoked', 'certificate.issued'])
    const user = (await get('/api/v1/audit?user=alice%40example.com&type=user.')).json().events
    t.match(user, [{ action: 'user.revoked', actor: 'token:test-admin', details: { email: 'alice@example.com', reason: 'affiliationChanged' } }])
    t.equal((await get(`/api/v1/audit?since=${new Date(Date.now() + 3_600_000).toISOString()}`)).json().total, 0)
    t.ok((await get('/api/v1/audit?until=2100-01-01')).json().total >= 10)

    const csv = await get('/api/v1/audit?format=csv&type=certificate.')
    const rows = records(t, csv.body)
    t.equal(rows.length, (await get('/api/v1/audit?type=certificate.')).json().total, 'CSV and JSON agree')
    t.ok(rows.every((r) => r.action!.startsWith('certificate.')))
    t.type(JSON.parse(rows[0]!.details!), 'object', 'details as JSON text')
  })
})
