import 'reflect-metadata'
import t from 'tap'
import { encodeCrlEntry, parseCrl, serialToHex, type CrlEntry } from '../../ca/index.js'
import { buildApp } from '../../src/app.js'
import { openDatabase } from '../../src/db/connect.js'
import { migrateToLatest } from '../../src/db/migrator.js'
import { revokeCertificate, revokedForCrl } from '../../src/db/revocation-repository.js'
import { CrlEntryList } from '../../src/revocation/crl-entries.js'
import { EXPIRED_GRACE_MS } from '../../src/revocation/crl-publisher.js'
import { initCa } from '../../src/startup/ca-loader.js'
import { createServices, type KagiServices } from '../../src/startup/services.js'
import { createToken } from '../../src/db/token-repository.js'
import { build, databaseKind, freshPostgresUrl, testConfig } from '../helper.js'
import { opensslCsr, tempDir } from '../support/openssl.js'

const DAY = 86_400_000

/** The order rule of the CRL's entries: revocation time, then serial. */
function ordered(entries: readonly CrlEntry[]): string[] {
  return [...entries].sort((a, b) => a.revokedAt.getTime() - b.revokedAt.getTime() || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0)).map((e) => e.serial)
}

t.test('CrlEntryList: one entry per serial, in time then serial order, joined as encoded', async (t) => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s))
  const list = new CrlEntryList()
  await list.replace([
    { serial: '0b', revokedAt: at(20), reason: 'keyCompromise' },
    { serial: '0a', revokedAt: at(10), reason: 'unspecified' },
    { serial: '0b', revokedAt: at(99), reason: 'superseded' }, // a second copy: the first wins
  ])
  t.same(list.serials(), ['0a', '0b'])
  const added = list.add([
    { serial: '0c', revokedAt: at(30), reason: 'keyCompromise' }, // appended
    { serial: '0a', revokedAt: at(40), reason: 'keyCompromise' }, // already listed
    { serial: '09', revokedAt: at(20), reason: 'affiliationChanged' }, // same time as 0b, smaller serial: before it
    { serial: '01', revokedAt: at(5), reason: 'cessationOfOperation' }, // earliest: first
  ])
  t.equal(added, 3)
  t.equal(list.size, 5)
  t.same(list.serials(), ['01', '0a', '09', '0b', '0c'])
  const expected: CrlEntry[] = [
    { serial: '01', revokedAt: at(5), reason: 'cessationOfOperation' },
    { serial: '0a', revokedAt: at(10), reason: 'unspecified' },
    { serial: '09', revokedAt: at(20), reason: 'affiliationChanged' },
    { serial: '0b', revokedAt: at(20), reason: 'keyCompromise' },
    { serial: '0c', revokedAt: at(30), reason: 'keyCompromise' },
  ]
  t.ok(list.revoked().equals(Buffer.concat(expected.map(encodeCrlEntry))), 'the joined DER is the entries encoded in order')
  // Appends after the joined copy exists grow it in place.
  for (let i = 0; i < 300; i++) list.add([{ serial: (0x1000 + i).toString(16), revokedAt: at(100 + i), reason: 'keyCompromise' }])
  const all = [...expected, ...Array.from({ length: 300 }, (_, i): CrlEntry => ({ serial: (0x1000 + i).toString(16), revokedAt: at(100 + i), reason: 'keyCompromise' }))]
  t.ok(list.revoked().equals(Buffer.concat(all.map(encodeCrlEntry))), 'still equal after 300 appends')
  await list.replace(all.slice(2))
  t.same(list.serials(), all.slice(2).map((e) => e.serial), 'a rebuild drops entries no longer given')
  t.ok(list.revoked().equals(Buffer.concat(all.slice(2).map(encodeCrlEntry))))
})

t.test('the incremental CRL equals one read from scratch, through revocations, expiry and a restart', async (t) => {
  let now = new Date()
  const { app, as, database, services } = await build(t, { clock: () => now })
  const dir = tempDir(t)
  const csr = opensslCsr(dir.dir, 'ec:P-256')
  const issueAt = async (daysAgo: number, user: string): Promise<string> => {
    const at = now
    now = new Date(at.getTime() - daysAgo * DAY)
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user, csr } })
    now = at
    t.equal(res.statusCode, 201, 'issued')
    return res.json().serial
  }
  const revokeApi = async (serial: string, reason: string): Promise<void> => {
    const res = await app.inject({ method: 'POST', url: `/api/v1/certificates/${serial}/revoke`, headers: as.admin, payload: { reason } })
    t.equal(res.statusCode, 200, 'revoked')
  }
  const served = async (s: KagiServices = services) => {
    const res = await app.inject({ url: '/pki/crl' })
    t.equal(res.statusCode, 200)
    return s === services ? parseCrl(res.rawPayload) : parseCrl((await s.crl.issuing.get())!.der)
  }
  const issuerSerial = serialToHex(services.ca.issuing.serial)
  /** What a CRL read from scratch lists now: the database's entries under the current grace cutoff. */
  const fromScratch = async () => ordered(await revokedForCrl(database.db, issuerSerial, new Date(now.getTime() - EXPIRED_GRACE_MS)))

  const fresh = [await issueAt(0, 'a@example.com'), await issueAt(0, 'b@example.com'), await issueAt(0, 'c@example.com')]
  const expiringSoon = await issueAt(362, 'soon@example.com') // notAfter in ~3 days
  const longExpired = await issueAt(400, 'old@example.com') // expired ~35 days ago: never listed

  await t.test('a revocation is on the CRL served right after the API returns', async (t) => {
    await revokeApi(fresh[0]!, 'keyCompromise')
    const crl = await served()
    t.same(crl.entries.map((e) => [e.serial, e.reason]), [[fresh[0], 'keyCompromise']])
  })

  await t.test('a mix of revocations: same entries and order as from scratch, each serial once', async (t) => {
    await revokeApi(expiringSoon, 'superseded')
    await revokeApi(fresh[1]!, 'unspecified')
    await revokeApi(fresh[1]!, 'keyCompromise') // again: unchanged, listed once
    await revokeApi(longExpired, 'cessationOfOperation')
    // A revocation with an earlier time than those listed (as the restore guard writes them), announced afterwards.
    await revokeCertificate(database.db, fresh[2]!, 'affiliationChanged', 'test', new Date(now.getTime() - 3_600_000))
    services.crl.issuing.revoked([fresh[2]!])
    const crl = await served()
    const serials = crl.entries.map((e) => e.serial)
    t.same(serials, await fromScratch(), 'equal to the database read from scratch, in order')
    t.equal(new Set(serials).size, serials.length, 'no serial twice')
    t.equal(serials[0], fresh[2], 'the earlier revocation sits first')
    t.notOk(serials.includes(longExpired), 'a certificate long expired is not listed')
    t.ok(serials.includes(expiringSoon))
    const before = crl.entries
    await services.crl.issuing.rebuild()
    t.same((await served()).entries, before, 'a rebuild from the database gives the same entries')
  })

  await t.test('expiry pruning at the re-signing interval', async (t) => {
    now = new Date(now.getTime() + 11 * DAY) // expiringSoon is now 8 days past notAfter, beyond the 7-day grace
    t.ok(services.crl.issuing.due(), 'due: past half of the validity')
    await services.crl.issuing.regenerate()
    const serials = (await served()).entries.map((e) => e.serial)
    t.notOk(serials.includes(expiringSoon), 'dropped once past the grace')
    t.same(serials, await fromScratch())
    const later = await issueAt(0, 'later@example.com')
    await revokeApi(later, 'keyCompromise')
    t.same((await served()).entries.map((e) => e.serial), await fromScratch(), 'and appended to after the rebuild')
  })

  await t.test('a restart reads the same list', async (t) => {
    const before = (await served()).entries
    const restarted = createServices(services.config, database.db, services.ca, { clock: () => now, passphrase: services.config.caPassphrase })
    await restarted.start()
    t.teardown(() => restarted.stop())
    t.same(restarted.crl.issuing.listedSerials(), services.crl.issuing.listedSerials())
    t.same((await served(restarted)).entries, before)
  })
})

t.test('two replicas on one PostgreSQL database stay consistent', { skip: databaseKind === 'pglite' ? 'replicas need PostgreSQL (PGlite is one process)' : false }, async (t) => {
  const url = await freshPostgresUrl(t)
  const database = await openDatabase({ url, dataDir: '' })
  t.teardown(() => database.close())
  await migrateToLatest(database.db)
  const config = testConfig(t, { DATABASE_URL: url })
  const { ca } = await initCa(database.db, config, config.caPassphrase!)
  const start = async (): Promise<KagiServices> => {
    const s = createServices(config, database.db, ca, { passphrase: config.caPassphrase })
    await s.start()
    t.teardown(() => s.stop())
    return s
  }
  const a = await start()
  const b = await start()
  const app = await buildApp(a)
  t.teardown(() => app.close())
  const admin = { authorization: `Bearer ${(await createToken(database.db, 'admin', 'test-admin')).token}` }
  const dir = tempDir(t)
  const csr = opensslCsr(dir.dir, 'ec:P-256')
  const serials: string[] = []
  for (const user of ['x@example.com', 'y@example.com', 'z@example.com']) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: admin, payload: { profile: 'user', user, csr } })
    t.equal(res.statusCode, 201, 'issued')
    serials.push(res.json().serial)
  }
  /** Waits (bounded) until B's CRL lists `serial`, as it hears of it through LISTEN. */
  const listedOnB = async (serial: string): Promise<boolean> => {
    for (let i = 0; i < 100; i++) {
      if (parseCrl((await b.crl.issuing.get())!.der).entries.some((e) => e.serial === serial)) return true
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return false
  }
  // Through A's API (A appends it itself; B hears the NOTIFY), then one committed without any announcement (as another process would).
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/certificates/${serials[0]}/revoke`, headers: admin, payload: { reason: 'keyCompromise' } })).statusCode, 200)
  t.ok(parseCrl((await a.crl.issuing.get())!.der).entries.some((e) => e.serial === serials[0]), "on A's CRL when the API returns")
  t.ok(await listedOnB(serials[0]!), "on B's CRL")
  await revokeCertificate(database.db, serials[1]!, 'superseded', 'other-process')
  t.ok(await listedOnB(serials[1]!), 'a revocation B only heard of is listed')
  for (let i = 0; i < 100 && !a.crl.issuing.listedSerials().includes(serials[1]!); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  await a.crl.issuing.get()
  t.same(a.crl.issuing.listedSerials(), b.crl.issuing.listedSerials(), 'both replicas list the same entries in the same order')
  const scratch = ordered(await revokedForCrl(database.db, serialToHex(ca.issuing.serial), new Date(Date.now() - EXPIRED_GRACE_MS)))
  t.same(b.crl.issuing.listedSerials(), scratch, 'equal to a read from scratch')
  const numbers = [(await a.crl.issuing.get())!.crlNumber, (await b.crl.issuing.get())!.crlNumber]
  t.equal(numbers[0], numbers[1], 'both serve the highest-numbered CRL')
})
