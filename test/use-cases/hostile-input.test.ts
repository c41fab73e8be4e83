/**
 * Every issuing path validates all of its input before it writes anything:
 * a hostile value in any string field is a 4xx (400 for malformed input,
 * never 500) and leaves app_user, device, certificate and audit_event as
 * they were. Paths: the JSON API (bare and as a bundle), the MDM route, the
 * certificate list, the enrollment page, the owner's download and the CLI.
 * Also the device host-name policy (allowed suffixes, lowercase, one owner
 * per host name). Good names are accepted, so the refusals are specific.
 */
import { X509Certificate } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { build } from '../helper.js'
import { PageClient } from '../support/session.js'
import {
  argvSafe,
  assertCliRefused,
  assertJsonError,
  assertNoNewRows,
  brief,
  chunks,
  cliInstallation,
  formOf,
  goodNames,
  hostileEmails,
  hostileHostnames,
  hostileNames,
  jsonOf,
  postPageForm,
  rowCounts,
  signedInApp,
  urlLabel,
  type Case,
} from './support.js'

// The CLI part alone runs some forty kagi processes; give the file more than the suite's default.
t.setTimeout(900_000)

type Field = 'device.name' | 'device.hostname' | 'device.serialNumber' | 'user'

const fieldPattern: Record<Field, RegExp> = {
  'device.name': /device\.name/,
  'device.hostname': /device\.hostname/,
  'device.serialNumber': /device\.serialNumber/,
  user: /\buser\b/,
}

/** Every (field, hostile value) pair of POST /api/v1/certificates. */
const apiCases: { field: Field; c: Case }[] = [
  ...hostileNames.map((c) => ({ field: 'device.name' as const, c })),
  ...hostileHostnames.map((c) => ({ field: 'device.hostname' as const, c })),
  ...hostileNames.map((c) => ({ field: 'device.serialNumber' as const, c })),
  ...hostileEmails.map((c) => ({ field: 'user' as const, c })),
]

/** A body that is good except for `value` in `field` (host names need the device profile). */
function apiBody(field: Field, value: string, i: number, platform: string, extra: Record<string, unknown> = {}) {
  const device: Record<string, string> = { name: `Alice device ${i}`, platform }
  let profile = 'user'
  let user = 'alice@example.com'
  if (field === 'device.name') device.name = value
  if (field === 'device.hostname') {
    profile = 'device'
    device.hostname = value
  }
  if (field === 'device.serialNumber') device.serialNumber = value
  if (field === 'user') user = value
  return { profile, user, device, ...extra }
}

t.test('api json: POST /api/v1/certificates refuses a hostile value in any field with a 400 and writes nothing', async (t) => {
  const { app, as, database } = await build(t)
  for (const [i, { field, c }] of apiCases.entries()) {
    await t.test(`api json: ${field} with ${c.label} → 400, no rows`, async (t) => {
      const before = await rowCounts(database.db)
      const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: apiBody(field, c.value, i, 'macos') })
      assertJsonError(t, res, 400, fieldPattern[field], field)
      await assertNoNewRows(t, database.db, before, field)
    })
  }
  for (const good of goodNames) {
    await t.test(`api json: device.name with ${good.label} is accepted (201)`, async (t) => {
      const before = await rowCounts(database.db)
      const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: apiBody('device.name', good.value, 0, 'macos') })
      t.equal(res.statusCode, 201, `status 201 (got ${brief(res)})`)
      const body = jsonOf(res) as { deviceId?: string; pkcs12?: string } | undefined
      t.ok(body?.pkcs12, 'a PKCS#12 with the generated key')
      t.equal((await rowCounts(database.db)).certificate, before.certificate + 1, 'one certificate row')
      const device = body?.deviceId ? await database.db.selectFrom('device').select('name').where('id', '=', body.deviceId).executeTakeFirst() : undefined
      t.equal(device?.name, good.value, 'the device keeps its name exactly')
    })
  }
  await t.test('api json: a good device host name is accepted (201)', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: apiBody('device.hostname', 'pc-1.corp.example.com', 0, 'windows') })
    t.equal(res.statusCode, 201, `status 201 (got ${brief(res)})`)
  })
})

for (const platform of ['macos', 'ios', 'windows', 'chromeos'] as const) {
  t.test(`api bundle (${platform}): a hostile value in any field is a 400 before anything is issued`, async (t) => {
    const { app, as, database } = await build(t, { env: { KAGI_GP_PORTAL: 'vpn.example.com' } })
    for (const [i, { field, c }] of apiCases.entries()) {
      await t.test(`api bundle ${platform}: ${field} with ${c.label} → 400, no rows`, async (t) => {
        const before = await rowCounts(database.db)
        const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: apiBody(field, c.value, i, platform, { bundle: platform }) })
        assertJsonError(t, res, 400, fieldPattern[field], field)
        await assertNoNewRows(t, database.db, before, field)
      })
    }
    for (const good of goodNames) {
      await t.test(`api bundle ${platform}: device.name with ${good.label} is accepted (201)`, async (t) => {
        const before = await rowCounts(database.db)
        const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: apiBody('device.name', good.value, 0, platform, { bundle: platform }) })
        t.equal(res.statusCode, 201, `status 201 (got ${brief(res)})`)
        const body = jsonOf(res) as { bundle?: { platform?: string; data?: string } } | undefined
        t.equal(body?.bundle?.platform, platform, 'the answer carries the bundle')
        t.ok(body?.bundle?.data, 'with its data')
        t.equal((await rowCounts(database.db)).certificate, before.certificate + 1, 'one certificate row')
      })
    }
  })
}

t.test('mdm: GET /api/v1/mdm/profiles/<platform> validates user, device and hostname before creating anything', async (t) => {
  const { app, as, database } = await build(t, { env: { KAGI_GP_PORTAL: 'vpn.example.com' } })
  const url = (platform: string, fields: Record<string, string | undefined>) => `/api/v1/mdm/profiles/${platform}?${formOf(fields)}`
  const cases: { name: string; field: RegExp; url: string }[] = [
    ...hostileEmails.map((c, i) => ({ name: `mdm macos: user with ${urlLabel(c)}`, field: /\buser\b/, url: url('macos', { user: c.value, device: `SN-USER-${i}` }) })),
    ...hostileNames.map((c) => ({ name: `mdm macos: device with ${urlLabel(c)}`, field: /\bdevice\b/, url: url('macos', { user: 'alice@example.com', device: c.value }) })),
    ...(['macos', 'windows'] as const).flatMap((platform) =>
      hostileHostnames.map((c, i) => ({
        name: `mdm ${platform}: hostname with ${urlLabel(c)}`,
        field: /hostname/,
        url: url(platform, { user: 'alice@example.com', device: `SN-${platform}-${i}`, profile: 'device', hostname: c.value }),
      })),
    ),
  ]
  for (const c of cases) {
    await t.test(`${c.name} → 400, no rows`, async (t) => {
      const before = await rowCounts(database.db)
      const res = await app.inject({ method: 'GET', url: c.url, headers: as.mdm })
      assertJsonError(t, res, 400, c.field, c.name)
      await assertNoNewRows(t, database.db, before, c.name)
    })
  }
  await t.test('mdm: a good user, device and hostname are accepted (200)', async (t) => {
    const before = await rowCounts(database.db)
    const user = await app.inject({ method: 'GET', url: url('macos', { user: 'alice@example.com', device: 'C02GOOD1' }), headers: as.mdm })
    t.equal(user.statusCode, 200, `status 200 (got ${brief(user)})`)
    const device = await app.inject({ method: 'GET', url: url('windows', { user: 'alice@example.com', device: 'PC-GOOD-1', profile: 'device', hostname: 'pc-good.corp.example.com' }), headers: as.mdm })
    t.equal(device.statusCode, 200, `status 200 (got ${brief(device)})`)
    t.equal((await rowCounts(database.db)).certificate, before.certificate + 2, 'two certificate rows')
  })
})

t.test('list: GET /api/v1/certificates with a hostile filter is a 400, not a 500', async (t) => {
  const { app, as, database } = await build(t)
  const cases = [
    ...hostileNames.map((c) => ({ name: `list: ?user= with ${urlLabel(c)}`, field: /\buser\b/, query: formOf({ user: c.value }) })),
    ...hostileNames.map((c) => ({ name: `list: ?device= with ${urlLabel(c)}`, field: /\bdevice\b/, query: formOf({ device: c.value }) })),
  ]
  for (const c of cases) {
    await t.test(`${c.name} → 400`, async (t) => {
      const before = await rowCounts(database.db)
      const res = await app.inject({ method: 'GET', url: `/api/v1/certificates?${c.query}`, headers: as.admin })
      assertJsonError(t, res, 400, c.field, c.name)
      await assertNoNewRows(t, database.db, before, c.name)
    })
  }
  await t.test('list: good filters answer 200', async (t) => {
    for (const query of ['user=alice@example.com', 'device=C02GOOD1', `device=${encodeURIComponent('山田のMacBook')}`]) {
      const res = await app.inject({ method: 'GET', url: `/api/v1/certificates?${query}`, headers: as.admin })
      t.equal(res.statusCode, 200, `?${query}: status 200 (got ${brief(res)})`)
    }
  })
})

/** The page's enrollment cases: hostile device names (macOS, user certificate) and host names (Windows, device certificate). */
const pageCases: { name: string; fields: Record<string, string>; good: boolean }[] = [
  ...hostileNames.map((c) => ({ name: `page: deviceName with ${urlLabel(c)}`, fields: { platform: 'macos', deviceName: c.value, kind: 'user', hostname: '' }, good: false })),
  ...hostileHostnames.map((c, i) => ({
    name: `page: hostname with ${urlLabel(c)}`,
    fields: { platform: 'windows', deviceName: `Alice PC ${i}`, kind: 'device', hostname: c.value },
    good: false,
  })),
  ...goodNames.map((c) => ({ name: `page: deviceName with ${c.label}`, fields: { platform: 'macos', deviceName: c.value, kind: 'user', hostname: '' }, good: true })),
  { name: 'page: a good hostname', fields: { platform: 'windows', deviceName: 'Alice Work PC', kind: 'device', hostname: 'pc-1.corp.example.com' }, good: true },
]

// POST /enroll allows 10 requests a minute: each chunk of 8 gets a fresh app.
for (const [n, chunk] of chunks(pageCases, 8).entries()) {
  t.test(`page: POST /enroll, cases ${n * 8 + 1}–${n * 8 + chunk.length}: hostile fields give a 400 page and write nothing`, async (t) => {
    const { app, database, page } = await signedInApp(t)
    for (const c of chunk) {
      await t.test(c.good ? `${c.name} is accepted (200 download page)` : `${c.name} → 400 page, no rows`, async (t) => {
        const before = await rowCounts(database.db)
        const res = await postPageForm(app, page, '/enroll', c.fields)
        t.match(String(res.headers['content-type']), /text\/html/, `${c.name}: an HTML page`)
        t.notMatch(res.body, /^\s+at .+:\d+:\d+\)?$/m, `${c.name}: no stack trace`)
        if (c.good) {
          t.equal(res.statusCode, 200, `status 200 (got ${brief(res)})`)
          t.match(res.body, /href="data:[^;"]+;base64,/, 'the download page')
          t.equal((await rowCounts(database.db)).certificate, before.certificate + 1, 'one certificate row')
        } else {
          t.equal(res.statusCode, 400, `${c.name}: status 400 (got ${brief(res)})`)
          await assertNoNewRows(t, database.db, before, c.name)
        }
      })
    }
  })
}

const ownerCases: { c: Case; good: boolean }[] = [...hostileHostnames.map((c) => ({ c, good: false })), { c: { label: 'a good hostname', value: 'pc-1.corp.example.com' }, good: true }]

// The owner's download allows 10 requests a minute: each chunk of 8 gets a fresh app.
for (const [n, chunk] of chunks(ownerCases, 8).entries()) {
  t.test(`owner download: GET /api/v1/devices/<id>/bundle, cases ${n * 8 + 1}–${n * 8 + chunk.length}: a hostile hostname is a 400, no rows`, async (t) => {
    const { app, database, page } = await signedInApp(t)
    const enrolled = await page.post('/enroll', { platform: 'macos', deviceName: 'Alice Mac', kind: 'user', hostname: '' })
    t.equal(enrolled.statusCode, 200, `the device is enrolled first: status 200 (got ${brief(enrolled)})`)
    const device = await database.db.selectFrom('device').select('id').where('name', '=', 'Alice Mac').executeTakeFirstOrThrow()
    for (const { c, good } of chunk) {
      const name = `owner download: hostname with ${urlLabel(c)}`
      await t.test(good ? `${name} is accepted (200)` : `${name} → 400, no rows`, async (t) => {
        const before = await rowCounts(database.db)
        const res = await page.get(`/api/v1/devices/${device.id}/bundle?${formOf({ platform: 'macos', profile: 'device', hostname: c.value })}`)
        if (good) {
          t.equal(res.statusCode, 200, `status 200 (got ${brief(res)})`)
          t.equal((await rowCounts(database.db)).certificate, before.certificate + 1, 'one certificate row')
        } else {
          assertJsonError(t, res, 400, /hostname/, name)
          await assertNoNewRows(t, database.db, before, name)
        }
      })
    }
  })
}

t.test('cli: kagi issue and kagi bundle refuse hostile values before writing anything, and check --out first', async (t) => {
  const cli = await cliInstallation(t, { KAGI_GP_PORTAL: 'vpn.example.com' })
  const names = hostileNames.filter((c) => argvSafe(c.value))
  const hostnames = hostileHostnames.filter((c) => argvSafe(c.value))
  const outputs = (prefix: string) => [`${prefix}.crt`, `${prefix}.chain.pem`, `${prefix}.p12`]
  const cases: { name: string; args: string[]; files: string[]; message: RegExp }[] = []
  for (const [i, c] of names.entries()) {
    const prefix = join(cli.dataDir, `issue-name-${i}`)
    cases.push({
      name: `cli issue: --device-name with ${c.label}`,
      args: ['issue', '--profile', 'device', '--user', 'alice@example.com', '--device-name', c.value, '--platform', 'windows', '--hostname', `pc-n${i}.corp.example.com`, '--out', prefix],
      files: outputs(prefix),
      message: /name/i,
    })
  }
  for (const [i, c] of hostnames.entries()) {
    const prefix = join(cli.dataDir, `issue-host-${i}`)
    cases.push({
      name: `cli issue: --hostname with ${c.label}`,
      args: ['issue', '--profile', 'device', '--user', 'alice@example.com', '--device-name', `Alice PC ${i}`, '--platform', 'windows', '--hostname', c.value, '--out', prefix],
      files: outputs(prefix),
      message: /host/i,
    })
  }
  for (const [i, c] of names.entries()) {
    const file = join(cli.dataDir, `bundle-name-${i}.mobileconfig`)
    cases.push({
      name: `cli bundle: --device-name with ${c.label}`,
      args: ['bundle', '--user', 'alice@example.com', '--platform', 'macos', '--device-name', c.value, '--out', file],
      files: [file],
      message: /name/i,
    })
  }
  for (const [i, c] of hostnames.entries()) {
    const file = join(cli.dataDir, `bundle-host-${i}.mobileconfig`)
    cases.push({
      name: `cli bundle: --hostname with ${c.label}`,
      args: ['bundle', '--user', 'alice@example.com', '--platform', 'macos', '--device-name', `Alice Mac ${i}`, '--profile', 'device', '--hostname', c.value, '--out', file],
      files: [file],
      message: /host/i,
    })
  }
  // Nothing else writes between two cases: each case's "after" is the next one's "before".
  let counts = await cli.counts()
  for (const c of cases) {
    await t.test(`${c.name} → non-zero exit, a message, no rows, no file`, async (t) => {
      const before = counts
      const r = cli.kagi(...c.args)
      assertCliRefused(t, r, c.message, c.name)
      counts = await cli.counts()
      t.same(counts, before, `${c.name}: no new rows in app_user, device, certificate, audit_event`)
      t.same(
        c.files.filter((f) => existsSync(f)),
        [],
        `${c.name}: no output file written`,
      )
    })
  }

  const missing = join(cli.dataDir, 'no-such-dir')
  await t.test('cli bundle: --out in a directory that does not exist → non-zero exit, no certificate issued', async (t) => {
    const before = await cli.counts()
    const r = cli.kagi('bundle', '--user', 'alice@example.com', '--platform', 'macos', '--device-name', 'Alice Out Mac', '--out', join(missing, 'x.mobileconfig'))
    assertCliRefused(t, r, /\S/, 'bundle --out')
    t.equal((await cli.counts()).certificate, before.certificate, 'bundle --out: no new certificate row (--out is checked before issuing)')
  })
  await t.test('cli issue: --out in a directory that does not exist → non-zero exit, no certificate issued', async (t) => {
    const before = await cli.counts()
    const r = cli.kagi('issue', '--profile', 'user', '--user', 'alice@example.com', '--device-name', 'Alice Out PC', '--platform', 'windows', '--out', join(missing, 'p'))
    assertCliRefused(t, r, /\S/, 'issue --out')
    t.equal((await cli.counts()).certificate, before.certificate, 'issue --out: no new certificate row (--out is checked before issuing)')
  })

  await t.test(`cli issue: --device-name with ${goodNames[0]!.label} is accepted`, async (t) => {
    const prefix = join(cli.dataDir, 'good-issue')
    const before = await cli.counts()
    const r = cli.kagi('issue', '--profile', 'device', '--user', 'alice@example.com', '--device-name', goodNames[0]!.value, '--platform', 'windows', '--hostname', 'pc-good.corp.example.com', '--out', prefix)
    t.equal(r.status, 0, r.stderr)
    t.ok(existsSync(`${prefix}.p12`), 'the PKCS#12 is written')
    t.equal((await cli.counts()).certificate, before.certificate + 1, 'one certificate row')
  })
  await t.test(`cli bundle: --device-name with ${goodNames[1]!.label} is accepted`, async (t) => {
    const file = join(cli.dataDir, 'good.mobileconfig')
    const r = cli.kagi('bundle', '--user', 'alice@example.com', '--platform', 'macos', '--device-name', goodNames[1]!.value, '--out', file)
    t.equal(r.status, 0, r.stderr)
    t.ok(existsSync(file), 'the bundle is written')
    const device = await cli.withDb((db) => db.selectFrom('device').select('name').where('name', '=', goodNames[1]!.value).executeTakeFirst())
    t.equal(device?.name, goodNames[1]!.value, 'the device keeps its name exactly')
  })
})

t.test('hostname policy: KAGI_DEVICE_HOSTNAME_SUFFIXES limits device host names', async (t) => {
  const { app, as, database } = await build(t, { env: { KAGI_DEVICE_HOSTNAME_SUFFIXES: 'corp.example.com,example.net' } })
  const post = (hostname: string, i: number) =>
    app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'device', user: 'alice@example.com', device: { name: `Policy PC ${i}`, platform: 'windows', hostname } } })
  for (const [i, hostname] of ['pc-1.evil.com', 'corp.example.com.evil.com', 'pc-1.notcorp.example.com'].entries()) {
    await t.test(`hostname policy: api json ${hostname} is outside the suffixes → 400, no rows`, async (t) => {
      const before = await rowCounts(database.db)
      assertJsonError(t, await post(hostname, i), 400, /hostname/, hostname)
      await assertNoNewRows(t, database.db, before, hostname)
    })
  }
  await t.test('hostname policy: mdm pc-3.evil.com → 400, no rows', async (t) => {
    const before = await rowCounts(database.db)
    const res = await app.inject({ method: 'GET', url: `/api/v1/mdm/profiles/windows?${formOf({ user: 'alice@example.com', device: 'SN-POLICY-3', profile: 'device', hostname: 'pc-3.evil.com' })}`, headers: as.mdm })
    assertJsonError(t, res, 400, /hostname/, 'mdm pc-3.evil.com')
    await assertNoNewRows(t, database.db, before, 'mdm pc-3.evil.com')
  })
  for (const [i, hostname] of ['pc-1.corp.example.com', 'pc-2.example.net'].entries()) {
    await t.test(`hostname policy: api json ${hostname} is inside the suffixes → 201`, async (t) => {
      const res = await post(hostname, 10 + i)
      t.equal(res.statusCode, 201, `status 201 (got ${brief(res)})`)
    })
  }
  await t.test('hostname policy: mdm pc-3.corp.example.com → 200', async (t) => {
    const res = await app.inject({ method: 'GET', url: `/api/v1/mdm/profiles/windows?${formOf({ user: 'alice@example.com', device: 'SN-POLICY-4', profile: 'device', hostname: 'pc-3.corp.example.com' })}`, headers: as.mdm })
    t.equal(res.statusCode, 200, `status 200 (got ${brief(res)})`)
  })
})

t.test('hostname normalisation: PC-1.Corp.Example.com is accepted and stored as pc-1.corp.example.com', async (t) => {
  const { app, as, database } = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/certificates',
    headers: as.admin,
    payload: { profile: 'device', user: 'alice@example.com', device: { name: 'Alice PC', platform: 'windows', hostname: 'PC-1.Corp.Example.com' } },
  })
  t.equal(res.statusCode, 201, `status 201 (got ${brief(res)})`)
  const body = jsonOf(res) as { certificate?: string; deviceId?: string } | undefined
  if (!body?.certificate || !body.deviceId) return
  const cert = new X509Certificate(body.certificate)
  t.equal(cert.subject, 'CN=pc-1.corp.example.com', 'the certificate CN is lowercase')
  t.match(cert.subjectAltName ?? '', /(^|, )DNS:pc-1\.corp\.example\.com(,|$)/, 'the dNSName is lowercase')
  const device = await database.db.selectFrom('device').select('hostname').where('id', '=', body.deviceId).executeTakeFirstOrThrow()
  t.equal(device.hostname, 'pc-1.corp.example.com', 'the device record holds the lowercase host name')
})

t.test("hostname held by another user: bob cannot take alice's host name except through an admin", async (t) => {
  // A loopback public URL: bob signs in through the development sign-in.
  const { app, as, database } = await build(t, { env: { KAGI_PUBLIC_URL: 'http://127.0.0.1:3000' } })
  const alice = await app.inject({
    method: 'POST',
    url: '/api/v1/certificates',
    headers: as.mdm,
    payload: { profile: 'device', user: 'alice@example.com', device: { name: 'Alice PC', platform: 'windows', serialNumber: 'SN-ALICE', hostname: 'pc-1.corp.example.com' } },
  })
  t.equal(alice.statusCode, 201, `alice's device certificate: status 201 (got ${brief(alice)})`)
  // Each request names a device of its own, so one answer cannot be a consequence of an earlier one.
  const mdmUrl = (hostname: string, serial: string) => `/api/v1/mdm/profiles/windows?${formOf({ user: 'bob@example.com', device: serial, profile: 'device', hostname })}`

  for (const [i, hostname] of ['pc-1.corp.example.com', 'PC-1.corp.example.com'].entries()) {
    await t.test(`hostname held by another user: bob through the MDM route with ${hostname} → 409, no rows`, async (t) => {
      const before = await rowCounts(database.db)
      const res = await app.inject({ method: 'GET', url: mdmUrl(hostname, `SN-BOB-MDM-${i}`), headers: as.mdm })
      assertJsonError(t, res, 409, /hostname|pc-1\.corp\.example\.com/i, `mdm ${hostname}`)
      await assertNoNewRows(t, database.db, before, `mdm ${hostname}`)
    })
  }
  await t.test('hostname held by another user: bob through POST /api/v1/certificates with an mdm token → 409, no rows', async (t) => {
    const before = await rowCounts(database.db)
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/certificates',
      headers: as.mdm,
      payload: { profile: 'device', user: 'bob@example.com', device: { name: 'Bob API PC', platform: 'windows', serialNumber: 'SN-BOB-API', hostname: 'pc-1.corp.example.com' } },
    })
    assertJsonError(t, res, 409, /hostname|pc-1\.corp\.example\.com/i, 'api json, mdm token')
    await assertNoNewRows(t, database.db, before, 'api json, mdm token')
  })
  await t.test('hostname held by another user: bob through the page (kind=device) → 409 page, no rows', async (t) => {
    const bob = new PageClient(app)
    t.equal((await bob.devSignIn('bob@example.com')).statusCode, 303)
    await bob.get('/')
    const before = await rowCounts(database.db)
    const res = await bob.post('/enroll', { platform: 'windows', deviceName: 'Bob PC', kind: 'device', hostname: 'pc-1.corp.example.com' })
    t.equal(res.statusCode, 409, `status 409 (got ${brief(res)})`)
    t.match(String(res.headers['content-type']), /text\/html/, 'an HTML page')
    await assertNoNewRows(t, database.db, before, 'page')
  })
  await t.test('hostname held by another user: bob with a host name of his own is accepted (200)', async (t) => {
    const res = await app.inject({ method: 'GET', url: mdmUrl('pc-2.corp.example.com', 'SN-BOB-OWN'), headers: as.mdm })
    t.equal(res.statusCode, 200, `status 200 (got ${brief(res)})`)
  })
  await t.test('hostname held by another user: an admin token may reassign it (201), and the reassignment is audited', async (t) => {
    const audited = async () => (await database.db.selectFrom('audit_event').select('action').execute()).filter((e) => /hostname/i.test(e.action)).length
    const auditedBefore = await audited()
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/certificates',
      headers: as.admin,
      payload: { profile: 'device', user: 'bob@example.com', device: { name: 'Bob Admin PC', platform: 'windows', serialNumber: 'SN-BOB-ADMIN', hostname: 'pc-1.corp.example.com' } },
    })
    t.equal(res.statusCode, 201, `status 201 (got ${brief(res)})`)
    t.ok((await audited()) > auditedBefore, 'an audit_event whose action names the hostname reassignment')
  })
})
