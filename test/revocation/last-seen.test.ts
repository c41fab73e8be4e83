import 'reflect-metadata'
import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import pg from 'pg'
import { build, databaseKind, freshPostgresUrl, type TestApp } from '../helper.js'
import { freePort } from '../support/free-port.js'
import { runKagi, startKagi } from '../support/kagi-process.js'
import { opensslCsr, run, runAsync, tempDir } from '../support/openssl.js'
import { PageClient } from '../support/session.js'
import { loadConfig } from '../../src/config.js'
import { neverUsed, vpnUse } from '../../src/revocation/last-seen.js'

// "Last seen by the VPN": each OCSP request about one of kagi's certificates is counted, written in batches,
// summed over replicas, and shown in the API, the admin console and the employee page.

/** The issuing and root PEM files, and an `openssl ocsp` runner against `url`. */
function ocspClient(t: Test, chainPem: string, url: string) {
  const dir = tempDir(t)
  const [issuingPem, rootPem] = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g)!
  const issuing = dir.file('issuing.pem', issuingPem!)
  const root = dir.file('root.pem', rootPem!)
  const ask = async (certFile: string, nonce = true, to = url) => {
    const r = await runAsync('openssl', ['ocsp', '-issuer', issuing, '-url', to, '-CAfile', root, '-verify_other', issuing, nonce ? '-nonce' : '-no_nonce', '-cert', certFile])
    return r.stdout + r.stderr
  }
  return { dir, ask }
}

async function issue(kagi: Pick<TestApp, 'app' | 'as'>, dir: ReturnType<typeof tempDir>, user: string) {
  const csr = opensslCsr(dir.dir, 'ec:P-256')
  const res = await kagi.app.inject({ method: 'POST', url: '/api/v1/certificates', headers: kagi.as.admin, payload: { profile: 'user', user, csr } })
  return { serial: res.json().serial as string, file: dir.file(`${user}.pem`, res.json().certificate) }
}

t.test('openssl ocsp moves ocspChecks and lastOcspCheckAt; unknown serials and bad requests are not counted', async (t) => {
  const kagi = await build(t)
  const { app, as, services } = kagi
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { dir, ask } = ocspClient(t, services.chainPem, `http://127.0.0.1:${(app.server.address() as { port: number }).port}/ocsp`)
  const alice = await issue(kagi, dir, 'alice@example.com')
  const view = async (serial: string) => (await app.inject({ url: `/api/v1/certificates/${serial}`, headers: as.mdm })).json()

  t.match(await view(alice.serial), { ocspChecks: 0, lastOcspCheckAt: null }, 'never checked')
  const before = Date.now()
  t.match(await ask(alice.file), /: good/)
  t.match(await ask(alice.file, false), /: good/)
  t.match(await ask(alice.file, false), /: good/, 'a cached answer is a check too')
  const unknown = await runAsync('openssl', ['ocsp', '-issuer', `${dir.dir}/issuing.pem`, '-serial', '0x4abcdef0123456789abcdef012345678', '-url', `http://127.0.0.1:${(app.server.address() as { port: number }).port}/ocsp`, '-noverify'])
  t.match(unknown.stdout, /unknown/)
  const malformed = await app.inject({ method: 'POST', url: '/ocsp', headers: { 'content-type': 'application/ocsp-request' }, payload: Buffer.from('not der') })
  t.equal(malformed.statusCode, 200)
  t.equal((await view(alice.serial)).ocspChecks, 0, 'written in batches, not on the hot path')
  await services.ocspChecks.flush()
  const seen = await view(alice.serial)
  t.equal(seen.ocspChecks, 3)
  t.ok(new Date(seen.lastOcspCheckAt).getTime() >= before - 1000 && new Date(seen.lastOcspCheckAt).getTime() <= Date.now(), 'the time of the last check')
  t.equal((await services.db.selectFrom('ocsp_check').select('serial').execute()).length, 1, 'only kagi\'s certificate has a row')

  // A revoked certificate's checks count too (the firewall still asks), and tallies add up across writes.
  await app.inject({ method: 'POST', url: `/api/v1/certificates/${alice.serial}/revoke`, headers: as.admin, payload: { reason: 'keyCompromise' } })
  t.match(await ask(alice.file), /: revoked/)
  await services.ocspChecks.flush()
  t.equal((await view(alice.serial)).ocspChecks, 4)
  const csv = await app.inject({ url: '/api/v1/certificates?user=alice@example.com&format=csv', headers: as.mdm })
  t.match(csv.body.split('\r\n')[0], /,"lastOcspCheckAt","ocspChecks"$/)
  t.match(csv.body.split('\r\n')[1], /,"4"$/)
})

t.test('KAGI_OCSP_LAST_SEEN=false counts nothing', async (t) => {
  const kagi = await build(t, { env: { KAGI_OCSP_LAST_SEEN: 'false' } })
  await kagi.app.listen({ port: 0, host: '127.0.0.1' })
  const { dir, ask } = ocspClient(t, kagi.services.chainPem, `http://127.0.0.1:${(kagi.app.server.address() as { port: number }).port}/ocsp`)
  const dave = await issue(kagi, dir, 'dave@example.com')
  t.match(await ask(dave.file), /: good/)
  await kagi.services.ocspChecks.flush()
  t.match((await kagi.app.inject({ url: `/api/v1/certificates/${dave.serial}`, headers: kagi.as.mdm })).json(), { ocspChecks: 0, lastOcspCheckAt: null })
  t.throws(() => loadConfig({ KAGI_OCSP_LAST_SEEN: 'off' }), { message: /KAGI_OCSP_LAST_SEEN: must be true or false/ })
})

t.test('a failed write keeps the tallies for the next one', async (t) => {
  const { services } = await build(t)
  const recorder = new (services.ocspChecks.constructor as typeof import('../../src/revocation/ocsp-checks.js').OcspCheckRecorder)(
    { ...services.db, executeQuery: () => Promise.reject(new Error('database down')) } as never,
    { log: { info() {}, warn() {}, error() {} } },
  )
  recorder.record(['00ab'])
  await recorder.flush()
  t.equal((recorder as unknown as { pending: Map<string, { checks: number }> }).pending.get('00ab')?.checks, 1, 'kept after the failure')
})

t.test('the admin console and the employee page say when the VPN last checked, and flag "issued, never used"', async (t) => {
  const kagi = await build(t, { env: { KAGI_PUBLIC_URL: 'http://127.0.0.1:3000' } })
  const { app, services } = kagi
  const page = new PageClient(app, { 'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36' })
  await page.devSignIn('bob@example.com')
  await page.get('/')
  t.equal((await page.post('/enroll', { platform: 'windows', deviceName: 'ThinkPad', kind: 'user' })).statusCode, 200)
  t.equal((await page.post('/enroll', { platform: 'android', deviceName: 'Pixel', kind: 'user' })).statusCode, 200)
  const [pixel, thinkpad] = await services.db.selectFrom('certificate').select(['serial', 'device_id']).orderBy('issued_at', 'desc').execute()
  t.match((await page.get('/')).body, /The VPN has not checked this certificate yet/)

  // The ThinkPad's certificate is checked through the responder (a real OCSP request); the Pixel's never.
  const { dir } = ocspClient(t, services.chainPem, '')
  const cert = (await app.inject({ url: `/api/v1/certificates/${thinkpad!.serial}`, headers: kagi.as.mdm })).json()
  const req = run('openssl', ['ocsp', '-issuer', `${dir.dir}/issuing.pem`, '-cert', dir.file('tp.pem', cert.certificate), '-no_nonce', '-reqout', `${dir.dir}/req.der`])
  t.equal(req.status, 0, req.stderr)
  const answered = await app.inject({ method: 'POST', url: '/ocsp', headers: { 'content-type': 'application/ocsp-request' }, payload: readFileSync(`${dir.dir}/req.der`) })
  t.equal(answered.statusCode, 200)
  await services.ocspChecks.flush()
  const checkedAt = (await services.db.selectFrom('ocsp_check').select('last_checked_at').executeTakeFirstOrThrow()).last_checked_at
  const hhmm = new Date(checkedAt).toISOString().slice(11, 16)
  t.match((await page.get('/')).body, new RegExp(`The VPN last checked this certificate today at ${hhmm} UTC`))

  await page.devSignIn('admin@example.com', true)
  const device = await page.get(`/admin/devices/${thinkpad!.device_id}`)
  t.equal(device.statusCode, 200)
  t.match(device.body, /Last seen by the VPN/)
  t.match(device.body, new RegExp(`${hhmm} UTC <span class="muted">1 OCSP checks</span>`))
  const fresh = await page.get(`/admin/devices/${pixel!.device_id}`)
  t.match(fresh.body, /never seen/, 'issued today, not yet seen')
  t.notMatch(fresh.body, /issued, never used/)

  // As if issued two days ago: the Pixel's certificate was never checked.
  await services.db.updateTable('certificate').set({ issued_at: new Date(Date.now() - 2 * 86_400_000) }).where('serial', '=', pixel!.serial).execute()
  const later = await page.get(`/admin/devices/${pixel!.device_id}`)
  t.match(later.body, /⚠ issued, never used/)
  const search = await page.get('/admin/search?q=bob')
  t.match(search.body, /issued, never used/)
  t.match(search.body, /1 OCSP checks/)
  const csv = await page.get('/admin/search.csv?q=bob')
  t.match(csv.body.split('\r\n')[0], /,"lastOcspCheckAt","ocspChecks","neverUsed"$/)
  t.match(csv.body, /,"","0","true"\r\n/, 'the Pixel\'s row is flagged')
})

t.test('the rule: seen, not yet, or issued more than a day ago and never used', async (t) => {
  const now = new Date('2026-12-01T12:00:00Z')
  const cert = { status: 'active' as const, notAfter: new Date('2027-12-01T00:00:00Z'), issuedAt: new Date('2026-11-30T11:00:00Z'), lastOcspCheckAt: null, ocspChecks: 0 }
  t.same(vpnUse(cert, now), { seen: false, neverUsed: true }, '25 hours, never checked')
  t.same(vpnUse({ ...cert, issuedAt: new Date('2026-11-30T13:00:00Z') }, now), { seen: false, neverUsed: false }, '23 hours: not yet')
  t.same(vpnUse({ ...cert, status: 'revoked' }, now), { seen: false, neverUsed: false }, 'revoked: no longer matters')
  t.same(vpnUse({ ...cert, notAfter: new Date('2026-12-01T00:00:00Z') }, now), { seen: false, neverUsed: false }, 'expired')
  const at = new Date('2026-12-01T09:12:00Z')
  t.same(vpnUse({ ...cert, lastOcspCheckAt: at, ocspChecks: 7 }, now), { seen: true, at, checks: 7 })
  t.equal(neverUsed(cert, now), true)
})

t.test('two replicas on PostgreSQL add up their counts', { skip: databaseKind === 'postgres' ? false : 'needs PostgreSQL: replicas share one database' }, async (t) => {
  const databaseUrl = await freshPostgresUrl(t)
  const dir = tempDir(t)
  const [portA, portB] = [await freePort(), await freePort()]
  const base = { PATH: process.env.PATH!, HOME: '/tmp', HOST: '127.0.0.1', DATABASE_URL: databaseUrl, KAGI_CA_PASSPHRASE: 'last-seen-replicas-0123456789', KAGI_DATA_DIR: dir.dir, KAGI_PUBLIC_URL: `http://127.0.0.1:${portA}`, KAGI_LOG_LEVEL: 'warn' }
  const created = runKagi({ ...base, PORT: String(portA) }, ['token', 'create', '--role', 'admin', '--name', 'ops'])
  t.equal(created.status, 0, created.stderr)
  const token = created.stdout.trim().split('\n').pop()!
  await startKagi(t, { ...base, PORT: String(portA) })
  await startKagi(t, { ...base, PORT: String(portB) })
  const a = `http://127.0.0.1:${portA}`
  const b = `http://127.0.0.1:${portB}`
  const chainPem = await (await fetch(`${a}/pki/chain.pem`)).text()
  const { ask } = ocspClient(t, chainPem, `${a}/ocsp`)
  const csr = opensslCsr(dir.dir, 'ec:P-256')
  const issued = await (await fetch(`${a}/api/v1/certificates`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ profile: 'user', user: 'carol@example.com', csr }) })).json()
  const certFile = dir.file('carol.pem', issued.certificate)
  for (let i = 0; i < 2; i++) t.match(await ask(certFile, true, `${a}/ocsp`), /: good/)
  for (let i = 0; i < 3; i++) t.match(await ask(certFile, true, `${b}/ocsp`), /: good/)
  // Each replica writes every 5 s (OCSP_CHECK_FLUSH_MS); wait at most 20 s for both.
  let view: { ocspChecks: number; lastOcspCheckAt: string | null } = { ocspChecks: 0, lastOcspCheckAt: null }
  for (let i = 0; i < 100 && view.ocspChecks < 5; i++) {
    await new Promise((r) => setTimeout(r, 200))
    view = await (await fetch(`${b}/api/v1/certificates/${issued.serial}`, { headers: { authorization: `Bearer ${token}` } })).json()
  }
  t.equal(view.ocspChecks, 5, 'two from A and three from B, in one row')
  t.ok(view.lastOcspCheckAt)
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  t.teardown(() => client.end())
  const rows = await client.query('select checks from ocsp_check')
  t.same(rows.rows.map((r) => Number(r.checks)), [5])
})
