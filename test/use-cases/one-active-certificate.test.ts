/**
 * One active certificate per (device, profile): every issuing path that
 * gives a device a new certificate revokes the previous one of that profile
 * as superseded, and never touches another device's or another profile's
 * certificates. After each scenario: exactly one active row for the device
 * and profile, every other one revoked with reason superseded.
 */
import { join } from 'node:path'
import t from 'tap'
import { build } from '../helper.js'
import { opensslCsr, tempDir } from '../support/openssl.js'
import { assertCliRefused, assertNoNewRows, assertOneActive, brief, certificatesOf, cliInstallation, formOf, goodNames, jsonOf, rowCounts, signedInApp } from './support.js'

// The CLI scenario runs several kagi processes.
t.setTimeout(600_000)

const deviceIdOf = (res: { json: () => unknown }): string => {
  const body = res.json() as { deviceId?: string }
  if (!body.deviceId) throw new Error('no deviceId in the answer')
  return body.deviceId
}

t.test('api: POST /api/v1/certificates twice for the same device supersedes the first', async (t) => {
  const { app, as, database } = await build(t)
  const post = (payload: object) => app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload })

  await t.test('api: same user and device.serialNumber (the name changed meanwhile) → one active', async (t) => {
    const first = await post({ profile: 'user', user: 'alice@example.com', device: { name: goodNames[0]!.value, platform: 'macos', serialNumber: 'C02SAME' } })
    t.equal(first.statusCode, 201, `status 201 (got ${brief(first)})`)
    const second = await post({ profile: 'user', user: 'alice@example.com', device: { name: 'Alice MacBook (renamed)', platform: 'macos', serialNumber: 'C02SAME' } })
    t.equal(second.statusCode, 201, `status 201 (got ${brief(second)})`)
    t.equal(deviceIdOf(second), deviceIdOf(first), 'the same device')
    await assertOneActive(t, database.db, deviceIdOf(first), 'user', 2, 'api, same serial number')
    const rows = await certificatesOf(database.db, deviceIdOf(first), 'user')
    t.equal(rows.find((r) => r.status === 'active')?.serial, (second.json() as { serial: string }).serial, 'the newer certificate is the active one')
  })

  await t.test('api: same user, name and platform (no serial number) → one active', async (t) => {
    const body = { profile: 'user', user: 'alice@example.com', device: { name: goodNames[1]!.value, platform: 'ios' } }
    const first = await post(body)
    t.equal(first.statusCode, 201, `status 201 (got ${brief(first)})`)
    const second = await post(body)
    t.equal(second.statusCode, 201, `status 201 (got ${brief(second)})`)
    t.equal(deviceIdOf(second), deviceIdOf(first), 'the same device')
    await assertOneActive(t, database.db, deviceIdOf(first), 'user', 2, 'api, same name and platform')
  })

  await t.test('api: the device profile twice for the same device → one active', async (t) => {
    const body = { profile: 'device', user: 'alice@example.com', device: { name: 'Alice PC', platform: 'windows', serialNumber: 'PC-SAME', hostname: 'pc-same.corp.example.com' } }
    const first = await post(body)
    t.equal(first.statusCode, 201, `status 201 (got ${brief(first)})`)
    const second = await post(body)
    t.equal(second.statusCode, 201, `status 201 (got ${brief(second)})`)
    await assertOneActive(t, database.db, deviceIdOf(first), 'device', 2, 'api, device profile')
  })
})

/** The fields of the page's form that posts to `action`, or undefined when the page has no such form. */
function formFields(html: string, action: string): Record<string, string> | undefined {
  const form = new RegExp(`<form\\b[^>]*\\baction="${action.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"[^>]*>([\\s\\S]*?)</form>`).exec(html)
  if (!form) return undefined
  const fields: Record<string, string> = {}
  for (const input of form[1]!.matchAll(/<input\b[^>]*>/g)) {
    const name = /\bname="([^"]*)"/.exec(input[0])?.[1]
    const value = /\bvalue="([^"]*)"/.exec(input[0])?.[1] ?? ''
    const type = /\btype="([^"]*)"/.exec(input[0])?.[1] ?? 'text'
    if (name && (type === 'hidden' || type === 'text' || ((type === 'checkbox' || type === 'radio') && /\bchecked\b/.test(input[0])))) fields[name] = value
  }
  return fields
}

t.test('page: enrolling a device name already in use is a 409; "Download again" renews it', async (t) => {
  const { app, database, page } = await signedInApp(t)
  const mac = await page.post('/enroll', { platform: 'macos', deviceName: 'MacBook Pro', kind: 'user', hostname: '' })
  t.equal(mac.statusCode, 200, `status 200 (got ${brief(mac)})`)
  const pc = await page.post('/enroll', { platform: 'windows', deviceName: 'Work PC', kind: 'user', hostname: '' })
  t.equal(pc.statusCode, 200, `status 200 (got ${brief(pc)})`)
  const devices = await database.db.selectFrom('device').select(['id', 'name']).execute()
  const macId = devices.find((d) => d.name === 'MacBook Pro')?.id
  const pcId = devices.find((d) => d.name === 'Work PC')?.id
  t.ok(macId && pcId, 'both devices are in the inventory')
  if (!macId || !pcId) return
  await page.get('/')

  await t.test('page: POST /enroll with "macbook pro" (same name, other case) → 409 page offering "Download again", nothing written', async (t) => {
    const before = await rowCounts(database.db)
    const res = await page.post('/enroll', { platform: 'macos', deviceName: 'macbook pro', kind: 'user', hostname: '' })
    t.equal(res.statusCode, 409, `status 409 (got ${brief(res)})`)
    t.match(String(res.headers['content-type']), /text\/html/, 'an HTML page')
    t.match(res.body, /Download again/, 'it offers to download the existing device again')
    await assertNoNewRows(t, database.db, before, 'enroll with a name in use')
    await page.get('/')
  })

  await t.test('page: the home page has a "Download again" form for each device; it renews the device (200 download page)', async (t) => {
    const home = await page.get('/')
    t.match(home.body, /Download again/, 'the home page says "Download again"')
    t.ok(formFields(home.body, `/devices/${pcId}/renew`), 'a form posting to /devices/<id>/renew for the PC')
    const fields = formFields(home.body, `/devices/${macId}/renew`)
    t.ok(fields, 'a form posting to /devices/<id>/renew for the Mac')
    t.ok(fields?._csrf, 'with a CSRF token')
    const res = await page.post(`/devices/${macId}/renew`, fields ?? {})
    t.equal(res.statusCode, 200, `status 200 (got ${brief(res)})`)
    t.match(res.body, /href="data:[^;"]+;base64,/, 'the download page')
    await assertOneActive(t, database.db, macId, 'user', 2, 'page, Download again')
    await assertOneActive(t, database.db, pcId, 'user', 1, 'page, the other device')
  })
})

t.test('owner download: GET /api/v1/devices/<id>/bundle twice → one active', async (t) => {
  const { database, page } = await signedInApp(t)
  const enrolled = await page.post('/enroll', { platform: 'macos', deviceName: 'Alice Mac', kind: 'user', hostname: '' })
  t.equal(enrolled.statusCode, 200, `status 200 (got ${brief(enrolled)})`)
  const device = await database.db.selectFrom('device').select('id').where('name', '=', 'Alice Mac').executeTakeFirstOrThrow()
  for (const n of [1, 2]) {
    const res = await page.get(`/api/v1/devices/${device.id}/bundle?platform=macos`)
    t.equal(res.statusCode, 200, `download ${n}: status 200 (got ${brief(res)})`)
  }
  await assertOneActive(t, database.db, device.id, 'user', 3, 'owner download')
})

t.test('mdm: a second fetch is 409 certificate_current; renew=true replaces → one active', async (t) => {
  const { app, as, database } = await build(t)
  const url = (extra: Record<string, string> = {}) => `/api/v1/mdm/profiles/ios?${formOf({ user: 'alice@example.com', device: 'F2LXSAME', ...extra })}`
  const first = await app.inject({ method: 'GET', url: url(), headers: as.mdm })
  t.equal(first.statusCode, 200, `status 200 (got ${brief(first)})`)
  const deviceId = String(first.headers['x-kagi-device-id'])
  const before = await rowCounts(database.db)
  const again = await app.inject({ method: 'GET', url: url(), headers: as.mdm })
  t.equal(again.statusCode, 409, `status 409 (got ${brief(again)})`)
  t.equal((jsonOf(again) as { error?: { code?: string } } | undefined)?.error?.code, 'certificate_current')
  await assertNoNewRows(t, database.db, before, 'mdm, second fetch')
  const renewed = await app.inject({ method: 'GET', url: url({ renew: 'true' }), headers: as.mdm })
  t.equal(renewed.statusCode, 200, `status 200 (got ${brief(renewed)})`)
  await assertOneActive(t, database.db, deviceId, 'user', 2, 'mdm, renew=true')
})

t.test('cli: kagi bundle again needs --renew; kagi issue twice supersedes', async (t) => {
  const cli = await cliInstallation(t)
  const bundle = (...extra: string[]) => cli.kagi('bundle', '--user', 'alice@example.com', '--platform', 'macos', '--device-name', 'Alice Mac', '--out', join(cli.dataDir, 'alice.mobileconfig'), ...extra)
  const first = bundle()
  t.equal(first.status, 0, first.stderr)
  const before = await cli.counts()
  const again = bundle()
  assertCliRefused(t, again, /--renew/, 'cli bundle again without --renew')
  t.same(await cli.counts(), before, 'cli bundle again without --renew: no new rows')
  const renewed = bundle('--renew')
  t.equal(renewed.status, 0, renewed.stderr)
  await cli.withDb(async (db) => {
    const device = await db.selectFrom('device').select('id').where('name', '=', 'Alice Mac').executeTakeFirstOrThrow()
    await assertOneActive(t, db, device.id, 'user', 2, 'cli bundle --renew')
  })

  for (const n of [1, 2]) {
    const r = cli.kagi('issue', '--profile', 'user', '--user', 'alice@example.com', '--device-name', 'Alice PC', '--platform', 'windows', '--out', join(cli.dataDir, `pc-${n}`))
    t.equal(r.status, 0, `kagi issue ${n}: ${r.stderr}`)
  }
  await cli.withDb(async (db) => {
    const device = await db.selectFrom('device').select('id').where('name', '=', 'Alice PC').executeTakeFirstOrThrow()
    await assertOneActive(t, db, device.id, 'user', 2, 'cli issue twice')
  })
})

for (const profile of ['user', 'device'] as const) {
  t.test(`concurrency: 5 concurrent POST /api/v1/certificates with a CSR (${profile} profile) for one device → never 500, one active`, async (t) => {
    const { app, as, database } = await build(t)
    const csr = opensslCsr(tempDir(t).dir, 'ec:P-256')
    const device = { name: 'Alice Race PC', platform: 'windows', serialNumber: 'PC-RACE', ...(profile === 'device' ? { hostname: 'pc-race.corp.example.com' } : {}) }
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile, user: 'alice@example.com', device, csr } })),
    )
    const statuses = answers.map((r) => r.statusCode)
    t.same(
      statuses.filter((s) => s !== 201 && s !== 409),
      [],
      `every answer is 201 or 409 (got ${statuses.join(', ')}; ${answers.filter((r) => r.statusCode !== 201).map(brief).join(' | ')})`,
    )
    const issued = answers.filter((r) => r.statusCode === 201)
    t.ok(issued.length >= 1, 'at least one succeeds')
    if (issued.length === 0) return
    const deviceIds = new Set(issued.map(deviceIdOf))
    t.equal(deviceIds.size, 1, 'all for the same device')
    await assertOneActive(t, database.db, [...deviceIds][0]!, profile, issued.length, `concurrency, ${profile}`)
  })
}

t.test('supersede touches only the same device and profile; a revoked certificate stays as it was', async (t) => {
  const { app, as, database } = await build(t)
  const post = async (payload: object) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload })
    t.equal(res.statusCode, 201, `status 201 (got ${brief(res)})`)
    return res.json() as { serial: string; deviceId: string }
  }
  const statusOf = async (serial: string) => database.db.selectFrom('certificate').select(['status', 'revocation_reason']).where('serial', '=', serial).executeTakeFirstOrThrow()
  const pc = { name: 'Alice PC', platform: 'windows', serialNumber: 'SN-1', hostname: 'pc-1.corp.example.com' }

  const user1 = await post({ profile: 'user', user: 'alice@example.com', device: pc })
  const device1 = await post({ profile: 'device', user: 'alice@example.com', device: pc })
  const other = await post({ profile: 'user', user: 'alice@example.com', device: { name: 'Alice Laptop', platform: 'windows', serialNumber: 'SN-2' } })
  const bobs = await post({ profile: 'user', user: 'bob@example.com', device: { name: 'Alice PC', platform: 'windows' } })
  const user2 = await post({ profile: 'user', user: 'alice@example.com', device: pc })

  t.same(await statusOf(device1.serial), { status: 'active', revocation_reason: null }, "re-issuing the user certificate leaves the device's device certificate active")
  t.same(await statusOf(other.serial), { status: 'active', revocation_reason: null }, "alice's other device keeps its certificate")
  t.same(await statusOf(bobs.serial), { status: 'active', revocation_reason: null }, "bob's device of the same name keeps its certificate")
  t.same(await statusOf(user1.serial), { status: 'revoked', revocation_reason: 'superseded' }, 'the previous user certificate is superseded')
  await assertOneActive(t, database.db, user2.deviceId, 'user', 2, 'same device, user profile')
  await assertOneActive(t, database.db, user2.deviceId, 'device', 1, 'same device, device profile')

  // A certificate revoked for another reason keeps that reason when the device is issued again.
  const revoked = await app.inject({ method: 'POST', url: `/api/v1/certificates/${user2.serial}/revoke`, headers: as.admin, payload: { reason: 'keyCompromise' } })
  t.equal(revoked.statusCode, 200, `status 200 (got ${brief(revoked)})`)
  const user3 = await post({ profile: 'user', user: 'alice@example.com', device: pc })
  t.same(await statusOf(user2.serial), { status: 'revoked', revocation_reason: 'keyCompromise' }, 'a keyCompromise revocation is not rewritten as superseded')
  t.same(await statusOf(user3.serial), { status: 'active', revocation_reason: null }, 'the new certificate is active')
  const rows = await certificatesOf(database.db, user3.deviceId, 'user')
  t.equal(rows.filter((r) => r.status === 'active').length, 1, 'one active user certificate on the device')
})
