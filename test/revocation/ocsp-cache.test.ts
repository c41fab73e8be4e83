import 'reflect-metadata'
import { Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, type CompiledQuery, type DatabaseConnection, type Driver } from 'kysely'
import t from 'tap'
import { Authority, createHierarchy, generateKey, issuerHashes, serialToHex, softwareSigner, spkiOf, type CertificateInfo } from '../../ca/index.js'
import { nullValue, octets, oid, seq, uint } from '../../ca/der.js'
import { OID } from '../../ca/oids.js'
import { ocspSignerProfile } from '../../profiles/index.js'
import type { Database } from '../../src/db/database.js'
import { OcspService } from '../../src/revocation/ocsp-service.js'
import type { Credential } from '../../src/use-cases/service-credentials.js'

/**
 * The pre-signed answer cache, driven through OcspService.answer with a
 * certificate table in memory (a kysely driver that answers statusesOf), so a
 * flood of 100,000 requests costs signatures, not database round trips.
 * Every answer is signed with a fresh ECDSA nonce (RFC 6979 is not used), so
 * byte-identical answers to two requests mean the second came from the cache.
 */

type Row = { serial: string; status: string; revoked_at: Date | null; revocation_reason: string | null; issuer_serial: string }

/** Kysely over a Map: every query is statusesOf (`where serial in (...)`), answered from `rows`. */
function memoryDb(rows: Map<string, Row>): Kysely<Database> {
  const connection: DatabaseConnection = {
    executeQuery: async <R>(query: CompiledQuery) => ({ rows: query.parameters.flatMap((p) => rows.get(String(p)) ?? []) as R[] }),
    streamQuery: () => {
      throw new Error('not used')
    },
  }
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: async () => {},
    commitTransaction: async () => {},
    rollbackTransaction: async () => {},
    releaseConnection: async () => {},
    destroy: async () => {},
  }
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  })
}

/** A CA, a delegated responder credential, and a request builder for CertIDs of that CA. */
async function fixture() {
  const { issuing } = await createHierarchy({ name: 'cache test', keyType: 'ecdsa-p256', publicUrl: 'http://kagi.test' })
  const authority = new Authority({ issuing: { certificate: issuing.certificate, signer: softwareSigner(issuing.privateKey) }, publicUrl: 'http://kagi.test', caName: 'cache test' })
  const keys = await generateKey('ecdsa-p256')
  const signed = authority.sign(ocspSignerProfile, { facts: {}, key: { publicKeyInfo: spkiOf(keys.publicKey), keyAlgorithm: 'ec', keyDescription: 'ecdsa-p256' } })
  const credential: Credential = { certificate: signed.der, privateKey: keys.privateKey, chain: [], notAfter: signed.notAfter }
  const hashes = issuerHashes(issuing.certificate.subject, issuing.certificate.publicKeyInfo)
  /** OCSPRequest (RFC 6960 §4.1.1) for one CertID (SHA-1 by default), no nonce: the cacheable kind. */
  const request = (serial: Buffer, hash: string = OID.sha1) =>
    seq(seq(seq(seq(seq(seq(oid(hash), nullValue()), octets(hashes.nameHashes.get(hash)!), octets(hashes.keyHashes.get(hash)!), uint(serial))))))
  return { issuing: issuing.certificate, credential, request }
}

function service(issuing: CertificateInfo, credential: Credential, rows: Map<string, Row>, budgets: { cacheBytes?: number; unknownCacheBytes?: number } = {}) {
  return new OcspService(memoryDb(rows), { issuing, retiredIssuers: [], responder: { get: async () => credential }, validityMs: 3_600_000, ...budgets })
}

/** 16 bytes, high bit clear (kagi's serial form), counting up from `i`. */
function serialBytes(prefix: number, i: number): Buffer {
  const b = Buffer.alloc(16, prefix)
  b.writeUInt32BE(i, 12)
  return b
}

t.test('ok/a flood of unknown serials beyond the old 100,000-entry cap leaves the cached good answer in place', async (t) => {
  const { issuing, credential, request } = await fixture()
  const good = serialBytes(0x11, 1)
  const rows = new Map<string, Row>([[serialToHex(good), { serial: serialToHex(good), status: 'active', revoked_at: null, revocation_reason: null, issuer_serial: serialToHex(issuing.serial) }]])
  const ocsp = service(issuing, credential, rows)
  const first = await ocsp.answer(request(good))
  t.same((await ocsp.answer(request(good))).der, first.der, 'cached: the same bytes again')
  // The old code cleared the whole cache when it reached 100,000 entries; default budgets here.
  const template = request(serialBytes(0x22, 0))
  const at = template.indexOf(serialBytes(0x22, 0))
  const start = Date.now()
  for (let i = 0; i < 100_001; i++) {
    const der = Buffer.from(template)
    der.writeUInt32BE(i, at + 12)
    await ocsp.answer(der)
  }
  t.comment(`100,001 unknown serials answered in ${Date.now() - start} ms`)
  t.same((await ocsp.answer(request(good))).der, first.der, 'the good answer cached first is still served from the cache')
  t.equal(rows.size, 1)
})

t.test('ok/unknown answers are bounded by their own budget, with LRU eviction', async (t) => {
  const { issuing, credential, request } = await fixture()
  const issuer = serialToHex(issuing.serial)
  const rows = new Map<string, Row>()
  const goods = Array.from({ length: 20 }, (_, i) => serialBytes(0x33, i))
  for (const s of goods) rows.set(serialToHex(s), { serial: serialToHex(s), status: 'active', revoked_at: null, revocation_reason: null, issuer_serial: issuer })
  // About 1 KB per answer: room for ~40 good answers and ~10 unknown ones.
  const ocsp = service(issuing, credential, rows, { cacheBytes: 40_000, unknownCacheBytes: 10_000 })
  const firstGood = new Map<number, Buffer>()
  for (const [i, s] of goods.entries()) firstGood.set(i, (await ocsp.answer(request(s))).der)
  const unknownFirst = (await ocsp.answer(request(serialBytes(0x44, 0)))).der
  t.same((await ocsp.answer(request(serialBytes(0x44, 0)))).der, unknownFirst, 'an unknown answer is cached too')
  for (let i = 1; i <= 200; i++) await ocsp.answer(request(serialBytes(0x44, i)))
  t.notOk((await ocsp.answer(request(serialBytes(0x44, 0)))).der.equals(unknownFirst), 'the oldest unknown answer was evicted: the unknown tier is bounded')
  for (const [i, s] of goods.entries()) t.same((await ocsp.answer(request(s))).der, firstGood.get(i), `good answer ${i} survived 200 unknown answers`)

  // Within the good tier, the least recently used answer goes first.
  const more = Array.from({ length: 60 }, (_, i) => serialBytes(0x55, i))
  for (const s of more) rows.set(serialToHex(s), { serial: serialToHex(s), status: 'active', revoked_at: null, revocation_reason: null, issuer_serial: issuer })
  const kept = goods[19]!
  let keptHits = 0
  for (const s of more) {
    await ocsp.answer(request(s))
    if ((await ocsp.answer(request(kept))).der.equals(firstGood.get(19)!)) keptHits++
  }
  t.equal(keptHits, more.length, 'a good answer asked for again and again stays while 60 others pass through')
  t.notOk((await ocsp.answer(request(goods[0]!))).der.equals(firstGood.get(0)!), 'the least recently used good answer was evicted')
})

t.test('ok/revocation drops the cached answer of its serial, whichever CertID form', async (t) => {
  const { issuing, credential, request } = await fixture()
  const s = serialBytes(0x66, 7)
  const row: Row = { serial: serialToHex(s), status: 'active', revoked_at: null, revocation_reason: null, issuer_serial: serialToHex(issuing.serial) }
  const rows = new Map([[row.serial, row]])
  const ocsp = service(issuing, credential, rows)
  const forms = [OID.sha1, OID.sha256]
  const cached = await Promise.all(forms.map((hash) => ocsp.answer(request(s, hash))))
  for (const [i, hash] of forms.entries()) t.same((await ocsp.answer(request(s, hash))).der, cached[i]!.der, `${hash} CertID: cached`)
  rows.set(row.serial, { ...row, status: 'revoked', revoked_at: new Date(), revocation_reason: 'keyCompromise' })
  ocsp.invalidate(row.serial)
  for (const [i, hash] of forms.entries()) {
    const after = await ocsp.answer(request(s, hash))
    t.notOk(after.der.equals(cached[i]!.der), `${hash} CertID: signed again after the invalidation`)
    t.ok(after.der.includes(Buffer.from([0xa0, 0x03, 0x0a, 0x01, 0x01])), 'revoked with reason keyCompromise (CRLReason 1)')
  }
})
