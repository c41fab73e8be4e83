import 'reflect-metadata'
import { sql } from 'kysely'
import t from 'tap'
import { parseCrl } from '../../ca/index.js'
import { createServices } from '../../src/startup/services.js'
import { build } from '../helper.js'
import { opensslCsr, run, tempDir } from '../support/openssl.js'

t.test('revoke API, CRL and openssl', async (t) => {
  let now = new Date()
  const { app, as, database, services } = await build(t, { clock: () => now })
  const dir = tempDir(t)
  const csr = opensslCsr(dir.dir, 'ec:P-256')
  const issue = async (user: string): Promise<{ serial: string; certificate: string }> => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user, csr } })
    t.equal(res.statusCode, 201, res.body)
    return res.json()
  }
  const good = await issue('good@example.com')
  const lost = await issue('lost@example.com')
  const revokeIt = (serial: string, payload: object, headers = as.admin) => app.inject({ method: 'POST', url: `/api/v1/certificates/${serial}/revoke`, headers, payload })

  const first = await app.inject({ url: '/pki/crl' })
  t.equal(first.statusCode, 200)
  t.equal(first.headers['content-type'], 'application/pkix-crl')
  const maxAge = Number(/max-age=(\d+)/.exec(String(first.headers['cache-control']))![1])
  t.ok(maxAge > 86_000 && maxAge <= 86_400, `cache-control max-age matches nextUpdate (${maxAge})`)
  t.ok(first.headers.expires, 'Expires header')
  const firstNumber = parseCrl(first.rawPayload).crlNumber!
  t.same(parseCrl(first.rawPayload).entries, [], 'no entries yet')

  const res = await revokeIt(lost.serial, { reason: 'keyCompromise' })
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json(), { serial: lost.serial, status: 'revoked', reason: 'keyCompromise', alreadyRevoked: false })
  const revokedAt = res.json().revokedAt
  const again = await revokeIt(lost.serial.toUpperCase(), { reason: 'superseded' })
  t.equal(again.statusCode, 200)
  t.match(again.json(), { reason: 'keyCompromise', revokedAt, alreadyRevoked: true }, 'a second revocation keeps the first time and reason')

  const cases: [string, () => ReturnType<typeof revokeIt>, number, RegExp][] = [
    ['fail/unknown-serial', () => revokeIt('ab'.repeat(16), { reason: 'keyCompromise' }), 404, /no certificate/],
    ['fail/bad-reason', () => revokeIt(good.serial, { reason: 'lost' }), 400, /reason must be one of unspecified, keyCompromise/],
    ['fail/bad-serial', () => revokeIt('zz', { reason: 'keyCompromise' }), 400, /hexadecimal/],
    ['fail/mdm-token', () => revokeIt(good.serial, { reason: 'keyCompromise' }, as.mdm), 403, /role admin/],
    ['fail/no-token', () => revokeIt(good.serial, { reason: 'keyCompromise' }, {}), 401, /token/],
  ]
  for (const [name, call, status, message] of cases) {
    const r = await call()
    t.equal(r.statusCode, status, `${name}: ${r.body}`)
    t.match(r.json().error.message, message, name)
  }
  const audit = await database.db.selectFrom('audit_event').select(['action', 'actor', 'details']).where('serial', '=', lost.serial).orderBy('id').execute()
  t.same(audit.map((a) => a.action), ['certificate.issued', 'certificate.revoked'], 'one revocation event')

  const crlRes = await app.inject({ url: '/pki/crl' })
  const crl = parseCrl(crlRes.rawPayload)
  t.ok(crl.crlNumber! > firstNumber, 'CRL number grows')
  t.same(crl.entries.map((e) => [e.serial, e.reason]), [[lost.serial, 'keyCompromise']])

  // The real openssl reads the CRL and checks both certificates against it.
  const chain = (await app.inject({ url: '/pki/chain.pem' })).body
  const rootCrl = await app.inject({ url: '/pki/root.crl' })
  t.equal(rootCrl.statusCode, 200, 'root CRL served')
  const crlFile = dir.file('issuing.crl', crlRes.rawPayload)
  const text = run('openssl', ['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text'])
  t.equal(text.status, 0, text.stderr)
  t.match(text.stdout, /Version 2/)
  t.match(text.stdout, /X509v3 CRL Number:\s+\d+/)
  t.match(text.stdout, /X509v3 Authority Key Identifier/)
  t.match(text.stdout, new RegExp(`Serial Number: ${lost.serial.toUpperCase()}[\\s\\S]*?CRL Reason Code:\\s+Key Compromise`))
  const pemCrls = dir.file('crls.pem', run('openssl', ['crl', '-inform', 'DER', '-in', crlFile]).stdout + run('openssl', ['crl', '-inform', 'DER', '-in', dir.file('root.crl', rootCrl.rawPayload)]).stdout)
  const cafile = dir.file('chain.pem', chain)
  const verify = (cert: string) => run('openssl', ['verify', '-crl_check_all', '-CAfile', cafile, '-CRLfile', pemCrls, dir.file('leaf.pem', cert)])
  const okRun = verify(good.certificate)
  t.equal(okRun.status, 0, `good certificate passes -crl_check_all: ${okRun.stdout}${okRun.stderr}`)
  const badRun = verify(lost.certificate)
  t.not(badRun.status, 0)
  t.match(badRun.stdout + badRun.stderr, /certificate revoked/)

  await t.test('revocations are final in the database', async (t) => {
    await t.rejects(sql`update certificate set status = 'active' where serial = ${lost.serial}`.execute(database.db), /is final/)
    await t.rejects(sql`delete from certificate where serial = ${lost.serial}`.execute(database.db), /cannot be deleted/)
  })

  await t.test('re-signed at half validity with nothing changed', async (t) => {
    const before = parseCrl((await app.inject({ url: '/pki/crl' })).rawPayload).crlNumber!
    t.notOk(services.crl.issuing.due())
    now = new Date(Date.now() + 13 * 3_600_000)
    t.ok(services.crl.issuing.due(), 'due after half of 24 h')
    await services.crl.issuing.regenerate()
    const after = await app.inject({ url: '/pki/crl' })
    t.ok(parseCrl(after.rawPayload).crlNumber! > before)
    now = new Date()
  })
})

t.test('expired certificates leave the CRL only after the grace period', async (t) => {
  let now = new Date()
  const { app, as, services } = await build(t, { clock: () => now })
  const dir = tempDir(t)
  const csr = opensslCsr(dir.dir, 'ec:P-256')
  const issueAt = async (daysAgo: number, user: string) => {
    now = new Date(Date.now() - daysAgo * 86_400_000)
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user, csr } })
    now = new Date()
    return res.json().serial as string
  }
  const longExpired = await issueAt(400, 'old@example.com') // expired ~35 days ago
  const justExpired = await issueAt(366, 'recent@example.com') // expired ~1 day ago
  for (const serial of [longExpired, justExpired]) {
    t.equal((await app.inject({ method: 'POST', url: `/api/v1/certificates/${serial}/revoke`, headers: as.admin, payload: { reason: 'cessationOfOperation' } })).statusCode, 200)
  }
  await services.crl.issuing.regenerate()
  const entries = parseCrl((await app.inject({ url: '/pki/crl' })).rawPayload).entries.map((e) => e.serial)
  t.ok(entries.includes(justExpired), 'a certificate that expired yesterday is still listed')
  t.notOk(entries.includes(longExpired), 'one that expired a month ago is dropped')
})

t.test('a restored database does not bring revoked certificates back', async (t) => {
  const { app, as, database, services } = await build(t)
  const dir = tempDir(t)
  const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user: 'x@example.com', csr: opensslCsr(dir.dir, 'ec:P-256') } })
  const serial = res.json().serial
  await app.inject({ method: 'POST', url: `/api/v1/certificates/${serial}/revoke`, headers: as.admin, payload: { reason: 'keyCompromise' } })
  await services.crl.issuing.get()
  // Simulate a restore from a backup taken before the revocation.
  await sql`alter table certificate disable trigger certificate_revocation_is_final`.execute(database.db)
  await sql`update certificate set status = 'active', revoked_at = null, revocation_reason = null where serial = ${serial}`.execute(database.db)
  await sql`alter table certificate enable trigger certificate_revocation_is_final`.execute(database.db)
  const errors: string[] = []
  const restarted = createServices(services.config, database.db, services.ca, {
    passphrase: services.config.caPassphrase,
    log: { info: () => {}, warn: () => {}, error: (_o, msg) => void errors.push(msg) },
  })
  await restarted.start()
  t.teardown(() => restarted.stop())
  const row = await database.db.selectFrom('certificate').select(['status', 'revocation_reason']).where('serial', '=', serial).executeTakeFirstOrThrow()
  t.same(row, { status: 'revoked', revocation_reason: 'keyCompromise' }, 'revoked again from the exported CRL')
  t.match(errors[0], /lacked revocations/)
  const audit = await database.db.selectFrom('audit_event').select('actor').where('serial', '=', serial).where('action', '=', 'certificate.revoked').execute()
  t.ok(audit.some((a) => a.actor === 'restore-guard'), 'the repair is audited')
  t.ok(parseCrl((await restarted.crl.issuing.get())!.der).entries.some((e) => e.serial === serial))
})
