import { spawnSync } from 'node:child_process'
import t from 'tap'
import { build } from '../helper.js'
import { PageClient } from '../support/session.js'

// The admin console through app.inject with the development sign-in: who gets in, the pages,
// revoking a lost device and offboarding a leaver, tokens, CSV exports.

const onLoopback = { env: { KAGI_PUBLIC_URL: 'http://127.0.0.1:3000' } }

async function withEmployees(t: Parameters<typeof build>[0]) {
  const ctx = await build(t, onLoopback)
  for (const [email, device, platform] of [
    ['alice@example.com', 'Alice MacBook', 'macos'],
    ['alice@example.com', 'Alice iPhone', 'ios'],
    ['bob@example.com', 'Bob ThinkPad', 'windows'],
  ] as const) {
    const page = new PageClient(ctx.app)
    await page.devSignIn(email)
    await page.get('/')
    const res = await page.post('/enroll', { platform, deviceName: device, kind: 'user' })
    if (res.statusCode !== 200) throw new Error(`enroll ${device}: ${res.statusCode}`)
  }
  const admin = new PageClient(ctx.app)
  await admin.devSignIn('root@example.com', true)
  return { ...ctx, admin }
}

const csvRows = (text: string): string[][] => {
  const r = spawnSync('python3', ['-c', 'import csv,sys,json; print(json.dumps(list(csv.reader(sys.stdin))))'], { input: text, encoding: 'utf8' })
  return JSON.parse(r.stdout) as string[][]
}

t.test('only admins get in; everyone else gets a 403 page that shows nothing', async (t) => {
  const { app, admin } = await withEmployees(t)
  const employee = new PageClient(app)
  await employee.devSignIn('alice@example.com')
  for (const path of ['/admin', '/admin/search?q=bob', '/admin/users/bob%40example.com', '/admin/audit', '/admin/tokens']) {
    for (const [who, client] of [['employee', employee], ['anonymous', new PageClient(app)]] as const) {
      const res = await client.get(path)
      t.equal(res.statusCode, 403, `${who} ${path}`)
      t.match(res.headers['content-type'], /text\/html/)
      t.notMatch(res.body, /bob@example\.com|Bob ThinkPad/, `${who} ${path}: nothing of the console`)
    }
  }
  t.notMatch((await employee.get('/')).body, /href="\/admin"/, 'no admin link for an employee')
  t.equal((await employee.post('/admin/users/bob%40example.com/revoke', { confirm: 'yes' })).statusCode, 403, 'a forged form from an employee is refused')
  t.equal((await admin.get('/admin')).statusCode, 200)
})

t.test('dashboard: server-side SVG charts with their numbers in tables, in both languages', async (t) => {
  const { admin } = await withEmployees(t)
  const res = await admin.get('/admin')
  t.equal(res.statusCode, 200)
  t.match(res.body, /<svg role="img" aria-labelledby="per-day-title"/)
  t.match(res.body, /<table class="numbers">/)
  t.match(res.body, /macos · user<\/th><td>1<\/td>/, 'active by platform and profile')
  t.match(res.body, /ios · user<\/th><td>1<\/td>/)
  t.match(res.body, /Within 30 days/)
  t.match(res.headers['content-security-policy'], /default-src 'none'/)
  t.notMatch(res.body, /https?:\/\/(?!www\.w3\.org)/, 'no third-party URLs')
  const ja = await admin.get('/admin', { 'accept-language': 'ja' })
  t.match(ja.body, /ダッシュボード/)
  t.match(ja.body, /日ごとの発行数と失効数/)
})

t.test('search finds by email, device name, host name and serial prefix; filters; CSV of the same result', async (t) => {
  const { admin, services } = await withEmployees(t)
  const byEmail = await admin.get('/admin/search?q=ALI')
  t.match(byEmail.body, /Alice MacBook/)
  t.match(byEmail.body, /Alice iPhone/)
  t.notMatch(byEmail.body, /Bob ThinkPad/)
  t.match(byEmail.body, /href="\/admin\/users\/alice%40example\.com"/, 'the user matches too')
  t.match((await admin.get('/admin/search?q=bob%20th')).body, /Bob ThinkPad/, 'device name prefix')
  const serial = (await services.db.selectFrom('certificate').select('serial').executeTakeFirstOrThrow()).serial
  const bySerial = await admin.get(`/admin/search?q=${serial.slice(0, 8).toUpperCase()}`)
  t.match(bySerial.body, new RegExp(serial.slice(0, 12)), 'certificate serial prefix, any case')
  const filtered = await admin.get('/admin/search?q=&platform=ios&status=active&profile=user&expiringWithinDays=')
  t.match(filtered.body, /Alice iPhone/)
  t.notMatch(filtered.body, /Alice MacBook/)
  t.equal((await admin.get('/admin/search?status=bogus')).statusCode, 400)
  t.equal((await admin.get('/admin/search?q=%25')).statusCode, 200, 'a LIKE wildcard is a plain character')
  const csv = await admin.get('/admin/search.csv?q=ali&platform=macos')
  t.match(csv.headers['content-type'], /text\/csv/)
  const rows = csvRows(csv.body)
  t.equal(rows[0]![0], 'serial')
  t.equal(rows.length, 2, 'header and the one macOS certificate of alice')
  t.equal(rows[1]![rows[0]!.indexOf('deviceName')], 'Alice MacBook')
})

t.test('a lost device: the admin finds it, revokes it, and the page shows OCSP and the CRL say revoked', async (t) => {
  const { admin, services } = await withEmployees(t)
  const device = await services.db.selectFrom('device').selectAll().where('name', '=', 'Bob ThinkPad').executeTakeFirstOrThrow()
  const page = await admin.get(`/admin/devices/${device.id}`)
  t.equal(page.statusCode, 200)
  t.match(page.body, /bob@example\.com/)
  t.match(page.body, /certificate\.issued/, 'history from the audit log')
  t.equal((await admin.post(`/admin/devices/${device.id}/revoke`, {})).statusCode, 400, 'the confirmation box is needed')
  t.equal((await services.db.selectFrom('certificate').select('status').where('device_id', '=', device.id).executeTakeFirstOrThrow()).status, 'active', 'nothing revoked without it')
  const done = await admin.post(`/admin/devices/${device.id}/revoke`, { confirm: 'yes' })
  t.equal(done.statusCode, 200, done.body.slice(0, 300))
  t.match(done.body, /Revoked 1 certificate\./)
  t.match(done.body, /OCSP now says: revoked\./)
  t.match(done.body, /The CRL \(number \d+\) lists 1 of them/)
  const cert = await services.db.selectFrom('certificate').selectAll().where('device_id', '=', device.id).executeTakeFirstOrThrow()
  t.equal(cert.revocation_reason, 'keyCompromise')
  const audit = await services.db.selectFrom('audit_event').select(['actor', 'client_ip']).where('action', '=', 'certificate.revoked').where('serial', '=', cert.serial).executeTakeFirstOrThrow()
  t.equal(audit.actor, 'user:root@example.com', 'the admin is the actor')
  t.equal(audit.client_ip, '127.0.0.1', "with the admin's address")
  const issued = await services.db.selectFrom('audit_event').select(['actor', 'client_ip']).where('action', '=', 'certificate.issued').where('serial', '=', cert.serial).executeTakeFirstOrThrow()
  t.same(issued, { actor: 'user:bob@example.com', client_ip: '127.0.0.1' }, "the enrollment is audited with the employee's address")
  t.equal((await admin.get('/admin/devices/00000000-0000-4000-8000-000000000000')).statusCode, 404)
  t.equal((await admin.get('/admin/devices/..%2F..%2Fetc')).statusCode, 404)
})

t.test('offboarding: "Revoke everything" revokes every certificate of the user and ends their sessions', async (t) => {
  const { app, admin, services } = await withEmployees(t)
  const alice = new PageClient(app)
  await alice.devSignIn('alice@example.com')
  const page = await admin.get('/admin/users/alice%40example.com')
  t.match(page.body, /Alice MacBook/)
  t.match(page.body, /Alice iPhone/)
  t.match(page.body, /development/, 'sign-ins are listed')
  const done = await admin.post('/admin/users/alice%40example.com/revoke', { confirm: 'yes' })
  t.equal(done.statusCode, 200)
  t.match(done.body, /Revoked 2 certificates/)
  const reasons = await services.db.selectFrom('certificate').innerJoin('app_user', 'app_user.id', 'certificate.user_id').select(['status', 'revocation_reason']).where('app_user.email', '=', 'alice@example.com').execute()
  t.same(reasons.map((r) => [r.status, r.revocation_reason]), [['revoked', 'affiliationChanged'], ['revoked', 'affiliationChanged']])
  t.notMatch((await alice.get('/')).body, /Signed in as <strong>/, "alice's session ended")
  t.equal((await admin.get('/admin/users/nobody%40example.com')).statusCode, 404)
  t.equal((await admin.get('/admin/users/not-an-email')).statusCode, 400)
})

t.test('audit log page with filters and CSV; tokens: create (shown once), last used, revoke', async (t) => {
  const { app, admin } = await withEmployees(t)
  const audit = await admin.get('/admin/audit?type=certificate.')
  t.equal(audit.statusCode, 200)
  t.match(audit.body, /certificate\.issued/)
  t.notMatch(audit.body, /auth\.signed-in/, 'filtered by type')
  t.equal((await admin.get('/admin/audit?since=yesterday')).statusCode, 400)
  const rows = csvRows((await admin.get('/admin/audit.csv?type=auth.')).body)
  t.ok(rows.length > 1 && rows.slice(1).every((r) => r[rows[0]!.indexOf('action')]!.startsWith('auth.')), 'the CSV has the same filter')

  await admin.get('/admin/tokens')
  const created = await admin.post('/admin/tokens', { name: 'jamf', role: 'mdm' })
  t.equal(created.statusCode, 200)
  const token = /<code class="password">(kagi_[A-Za-z0-9_-]+)<\/code>/.exec(created.body)?.[1]
  t.ok(token, 'the token is shown once')
  t.notMatch((await admin.get('/admin/tokens')).body, new RegExp(token!), 'and never again')
  const twice = await admin.post('/admin/tokens', { name: 'jamf', role: 'mdm' })
  t.equal(twice.statusCode, 409, 'a second live token of that name is refused')
  t.match(twice.body, /already has this name/)
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/mdm/profiles/macos?user=a@example.com&device=X', headers: { authorization: `Bearer ${token}` } })).statusCode < 500, true)
  const list = await admin.get('/admin/tokens')
  t.match(list.body, /<td>jamf<\/td><td>mdm<\/td><td>[^<]+<\/td><td>\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/td>/, 'last used is recorded')
  const id = /action="\/admin\/tokens\/([0-9a-f-]{36})\/revoke"/.exec(list.body)![1]!
  const revoked = await admin.post(`/admin/tokens/${id}/revoke`, {})
  t.match(revoked.body, /Token revoked/)
  t.equal((await admin.post('/admin/tokens', { name: '', role: 'mdm' })).statusCode, 400)
})

t.test('PAN-OS page: the dry run as a page, then the push, against the PAN-OS test double', async (t) => {
  const { startFakePanos } = await import('../panos/fake-panos.js')
  const fake = await startFakePanos()
  t.teardown(() => fake.close())
  const { admin, services } = await withEmployees(t)
  const notConfigured = await admin.get('/admin/panos')
  t.match(notConfigured.body, /PAN-OS push is not configured/)
  t.match(notConfigured.body, /KAGI_PANOS_URL/)
  const env = { KAGI_PANOS_URL: fake.url, KAGI_PANOS_API_KEY: fake.issueKey('kagi-api'), KAGI_PANOS_PORTAL: 'gp-portal', KAGI_PANOS_GATEWAY: 'gp-gateway' }
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
  Object.assign(process.env, env)
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]
    else process.env[k] = v
  })
  const diff = await admin.get('/admin/panos')
  t.equal(diff.statusCode, 200, diff.body.slice(0, 400))
  t.match(diff.body, /\+ certificate kagi-root-ca-/)
  t.match(diff.body, /action="\/admin\/panos\/push"/)
  const writes = () => fake.requests.filter((r) => ['set', 'edit', 'delete'].includes(r.params.action ?? '') || ['commit', 'import'].includes(r.params.type ?? '')).length
  t.equal(writes(), 0, 'the page itself writes nothing')
  const pushed = await admin.post('/admin/panos/push', {})
  t.equal(pushed.statusCode, 200, pushed.body.slice(0, 400))
  t.match(pushed.body, /committed \(job \d+\)/)
  const again = await admin.get('/admin/panos')
  t.match(again.body, /already has what kagi wants/)
  const audit = await services.db.selectFrom('audit_event').select(['actor', 'action']).where('action', 'like', 'panos.%').execute()
  t.same(audit, [{ actor: 'user:root@example.com', action: 'panos.pushed' }])
})
