import { createHash } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { FileMigrationProvider, Migrator, sql, type Kysely } from 'kysely'
import t, { type Test } from 'tap'
import { canonicalEvent, eventHash, GENESIS_HASH, isoMicros, walkChain } from '../../src/db/audit-chain.js'
import { openDatabase } from '../../src/db/connect.js'
import type { Database } from '../../src/db/database.js'
import { migrateToLatest, migrationsDir } from '../../src/db/migrator.js'
import { databaseKind, freshPostgresUrl, testDatabase } from '../helper.js'

type Db = Kysely<Database>

const insert = (db: Db, action: string, extra: { serial?: string; client_ip?: string; details?: object; at?: string } = {}) =>
  db.insertInto('audit_event').values({ actor: 'test', action, serial: extra.serial ?? null, client_ip: extra.client_ip ?? null, details: JSON.stringify(extra.details ?? {}), ...(extra.at ? { at: sql<Date>`${extra.at}::timestamptz` } : {}) }).execute()

/** Runs fn with every user trigger off, as a superuser tampering with the table would (SET session_replication_role = replica). */
async function tamper(db: Db, fn: (trx: Db) => Promise<unknown>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`set local session_replication_role = replica`.execute(trx)
    await fn(trx)
  })
}

const rows = (db: Db) => sql<{ seq: string; id: string; prev: string; hash: string }>`select seq::text, id::text, encode(prev_hash, 'hex') as prev, encode(hash, 'hex') as hash from audit_event order by audit_event.seq`.execute(db).then((r) => r.rows)

t.test('ok/golden: the canonical encoding and hash of one event, as documented', async (t) => {
  const e = { id: '7', atMicros: '1738310400123456', actor: 'user:山田@example.com', action: 'auth.signed-in', serial: null, clientIp: '192.0.2.1', details: '{"a": "\\u0001"}' }
  t.equal(isoMicros(e.atMicros), '2025-01-31T08:00:00.123456Z')
  const expected = 'kagi-audit-v1\n1:727:2025-01-31T08:00:00.123456Z23:user:山田@example.com14:auth.signed-in-9:192.0.2.115:{"a": "\\u0001"}'
  t.equal(canonicalEvent(e).toString('utf8'), expected, 'f(v) = UTF-8 byte length ":" v; f(null) = "-"')
  t.equal(eventHash(GENESIS_HASH, e).toString('hex'), createHash('sha256').update(Buffer.alloc(32)).update(expected, 'utf8').digest('hex'))
})

t.test('ok/trigger: the database computes the same hashes as TypeScript, for awkward content, in one multi-row insert', async (t) => {
  const { db } = await testDatabase(t)
  await db
    .insertInto('audit_event')
    .values([
      { actor: 'a', action: 'x', details: JSON.stringify({ z: 1, a: [1, 2.50, { b: null }], 'é': 'quote " backslash \\ ctl \u0001 tab \t', n: 1e21 }) },
      { actor: 'kagi', action: 'y', serial: '0a1b', client_ip: '::1', details: '{}', at: sql<Date>`'2025-01-31T08:00:00.000001Z'::timestamptz` },
      { actor: '山田', action: 'z\u2028', details: JSON.stringify({ emoji: '🔑', big: '9'.repeat(40) }) },
    ])
    .execute()
  await insert(db, 'after')
  const walk = await walkChain(db)
  t.equal(walk.problem, undefined, 'chain intact')
  t.equal(walk.events, 4)
  const r = await rows(db)
  t.same(r.map((x) => x.seq), ['1', '2', '3', '4'], 'seq 1..4 in insertion order')
  t.equal(r[0]!.prev, '00'.repeat(32), 'the first event links to 32 zero bytes')
  for (let i = 1; i < r.length; i++) t.equal(r[i]!.prev, r[i - 1]!.hash, `seq ${i + 1} links to seq ${i}`)
  const head = await db.selectFrom('audit_chain_head').selectAll().executeTakeFirstOrThrow()
  t.same([String(head.seq), Buffer.from(head.hash).toString('hex')], ['4', r[3]!.hash], 'the chain head is the last event')
})

t.test('ok/trigger: writers cannot choose seq or hashes', async (t) => {
  const { db } = await testDatabase(t)
  await insert(db, 'one')
  await sql`insert into audit_event (actor, action, seq, prev_hash, hash) values ('x', 'forged', 99, '\\x01', '\\x02')`.execute(db)
  const r = await rows(db)
  t.same(r.map((x) => x.seq), ['1', '2'])
  t.equal((await walkChain(db)).problem, undefined)
})

t.test('fail/append-only: UPDATE, DELETE and TRUNCATE are refused by triggers', async (t) => {
  const { db } = await testDatabase(t)
  await insert(db, 'one', { serial: 'aa' })
  await t.rejects(sql`update audit_event set actor = 'someone else'`.execute(db), /audit_event is append-only: UPDATE refused/)
  await t.rejects(sql`delete from audit_event`.execute(db), /audit_event is append-only: DELETE refused/)
  await t.rejects(sql`truncate audit_event`.execute(db), /audit_event is append-only: TRUNCATE refused/)
  await t.rejects(sql`delete from audit_chain_head`.execute(db), /audit_chain_head is append-only: DELETE refused/)
  await sql`insert into audit_head values (1, '\\x00', '\\x00', 's', now())`.execute(db)
  await t.rejects(sql`update audit_head set signer_serial = 'x'`.execute(db), /audit_head is append-only: UPDATE refused/)
  await t.rejects(sql`delete from audit_head`.execute(db), /audit_head is append-only: DELETE refused/)
  t.equal((await rows(db)).length, 1, 'the event is still there')
})

/** A log of ten events, tampered with by `fn`; returns what the walk found. */
async function tampered(t: Test, fn: (db: Db, r: Awaited<ReturnType<typeof rows>>) => Promise<void>) {
  const { db } = await testDatabase(t)
  for (let i = 1; i <= 10; i++) await insert(db, `event.${i}`, { serial: `0${i}` })
  t.equal((await walkChain(db, { batchSize: 3 })).problem, undefined, 'intact before')
  await fn(db, await rows(db))
  return walkChain(db, { batchSize: 3 })
}

t.test('fail/altered: a changed event is named', async (t) => {
  const walk = await tampered(t, (db) => tamper(db, (trx) => sql`update audit_event set details = '{"reason": "keyCompromise"}' where seq = 4`.execute(trx)))
  t.match(walk.problem, { kind: 'altered', seq: '4', message: /^event seq 4 \(id \d+, event\.4 at .+\) was altered/ })
  t.equal(walk.events, 3, 'stops at the first problem')
})

t.test('fail/altered: a changed time (one microsecond) is named', async (t) => {
  const walk = await tampered(t, (db) => tamper(db, (trx) => sql`update audit_event set at = at + interval '1 microsecond' where seq = 7`.execute(trx)))
  t.match(walk.problem, { kind: 'altered', seq: '7' })
})

t.test('fail/altered: an event rewritten with its own hash recomputed is named (the next one no longer links to it)', async (t) => {
  const walk = await tampered(t, (db, r) =>
    tamper(db, async (trx) => {
      const row = (await sql<{ id: string; at_us: string }>`select id::text, (extract(epoch from at) * 1000000)::bigint::text as at_us from audit_event where seq = 5`.execute(trx)).rows[0]!
      const forged = { id: row.id, atMicros: row.at_us, actor: 'test', action: 'event.5', serial: 'ff', clientIp: null, details: '{}' }
      await sql`update audit_event set serial = 'ff', hash = ${eventHash(Buffer.from(r[3]!.hash, 'hex'), forged)} where seq = 5`.execute(trx)
    }),
  )
  t.match(walk.problem, { kind: 'altered', seq: '5', message: /^event seq 5 .* was replaced, or events after it were removed: event seq 6 .* was chained to another event/ })
})

t.test('fail/removed: a deleted event is named by its seq', async (t) => {
  const walk = await tampered(t, (db) => tamper(db, (trx) => sql`delete from audit_event where seq = 6`.execute(trx)))
  t.match(walk.problem, { kind: 'removed', seq: '6', message: /^event seq 6 was removed: the chain goes from seq 5 to event seq 7/ })
})

t.test('fail/removed: the first event deleted', async (t) => {
  const walk = await tampered(t, (db) => tamper(db, (trx) => sql`delete from audit_event where seq = 1`.execute(trx)))
  t.match(walk.problem, { kind: 'removed', seq: '1', message: /^event seq 1 was removed/ })
})

t.test('fail/removed: deleted events renumbered to close the gap', async (t) => {
  const walk = await tampered(t, (db) =>
    tamper(db, async (trx) => {
      await sql`delete from audit_event where seq = 3`.execute(trx)
      for (let s = 4; s <= 10; s++) await sql`update audit_event set seq = ${s - 1} where seq = ${s}`.execute(trx)
      await sql`update audit_chain_head set seq = 9`.execute(trx)
    }),
  )
  t.match(walk.problem, { kind: 'altered', seq: '2', message: /^event seq 2 .* was replaced, or events after it were removed: event seq 3 \(id \d+, event\.4 / })
})

t.test('fail/removed: events removed from the end (the chain head is ahead)', async (t) => {
  const walk = await tampered(t, (db) => tamper(db, (trx) => sql`delete from audit_event where seq >= 9`.execute(trx)))
  t.match(walk.problem, { kind: 'removed', seq: '9', message: /events seq 9\.\.10 were removed from the end/ })
})

t.test('fail/inserted: a forged event slipped in between, consistently hashed, with the rest renumbered', async (t) => {
  const walk = await tampered(t, (db, r) =>
    tamper(db, async (trx) => {
      for (let s = 10; s >= 5; s--) await sql`update audit_event set seq = ${s + 1} where seq = ${s}`.execute(trx)
      const forged = { id: '1000', atMicros: '1738310400000000', actor: 'cli', action: 'certificate.revoked', serial: '04', clientIp: null, details: '{"reason": "superseded"}' }
      const prev = Buffer.from(r[3]!.hash, 'hex')
      await sql`insert into audit_event (id, seq, at, actor, action, serial, details, prev_hash, hash)
        values (1000, 5, to_timestamp(1738310400), 'cli', 'certificate.revoked', '04', '{"reason": "superseded"}', ${prev}, ${eventHash(prev, forged)})`.execute(trx)
    }),
  )
  t.match(walk.problem, { kind: 'inserted', seq: '5', id: '1000', message: /^event seq 5 \(id 1000, certificate\.revoked at 2025-01-31T08:00:00\.000000Z\) was inserted: event seq 6 .* was chained to the event before it/ })
})

t.test('fail/inserted: a forged event appended past the trigger', async (t) => {
  const walk = await tampered(t, (db, r) =>
    tamper(db, (trx) => sql`insert into audit_event (actor, action, details, seq, prev_hash, hash) values ('cli', 'forged', '{}', 11, ${Buffer.from(r[9]!.hash, 'hex')}, ${Buffer.alloc(32, 1)})`.execute(trx)),
  )
  t.match(walk.problem, { kind: 'altered', seq: '11', message: /event seq 11 .*forged.* was altered/ })
})

t.test('fail/inserted: a second event with the same seq (unique index dropped)', async (t) => {
  const walk = await tampered(t, async (db) => {
    await sql`drop index audit_event_seq`.execute(db)
    await tamper(db, (trx) => sql`insert into audit_event (actor, action, details, seq, prev_hash, hash) select 'cli', 'forged', '{}', 3, prev_hash, hash from audit_event where seq = 3`.execute(trx))
  })
  t.match(walk.problem, { kind: 'inserted', seq: '3', message: /two events have seq 3/ })
})

t.test('ok/progress: reported every N events while reading in batches', async (t) => {
  const { db } = await testDatabase(t)
  await db.insertInto('audit_event').values(Array.from({ length: 25 }, (_, i) => ({ actor: 'test', action: `bulk.${i}`, details: '{}' }))).execute()
  const seen: number[] = []
  const walk = await walkChain(db, { batchSize: 7, progressEvery: 10, onProgress: (n) => seen.push(n), hashesAt: new Set(['10', '25', '99']) })
  t.same(seen, [10, 20])
  t.equal(walk.events, 25)
  t.same([...walk.hashesAt.keys()], ['10', '25'], 'hashes at the seqs asked for that exist')
})

/** A fresh database migrated up to `last`, with the migrator to go on. */
async function databaseAt(t: Test, last: string): Promise<{ db: Kysely<any>; migrator: Migrator }> {
  const handle = process.env.DATABASE_URL ? await openDatabase({ url: await freshPostgresUrl(t), dataDir: '' }) : await openDatabase({ dataDir: '', memory: true })
  t.teardown(() => handle.close())
  const migrator = new Migrator({ db: handle.db, provider: new FileMigrationProvider({ fs, path, migrationFolder: migrationsDir }) })
  const { error } = await migrator.migrateTo(last)
  if (error) throw error
  return { db: handle.db, migrator }
}

t.test('ok/migration 0013 chains the existing events in id order, and down/up round-trips', async (t) => {
  const { db, migrator } = await databaseAt(t, '0012_create_web_session')
  for (const [i, at] of ['2025-01-02T00:00:00Z', '2025-01-01T00:00:00Z', '2025-01-03T00:00:00.5Z'].entries()) {
    await db.insertInto('audit_event').values({ actor: 'kagi', action: `old.${i}`, serial: null, details: JSON.stringify({ i }), at }).execute()
  }
  await migrateToLatest(db)
  const walk = await walkChain(db)
  t.equal(walk.problem, undefined, 'the old events form a valid chain')
  t.equal(walk.events, 3)
  const r = await db.selectFrom('audit_event').select(['action', sql<string>`seq::text`.as('seq')]).orderBy('seq').execute()
  t.same(r.map((x) => x.action), ['old.0', 'old.1', 'old.2'], 'in id order, not time order')
  await insert(db, 'new')
  t.equal((await walkChain(db)).events, 4, 'new events continue the chain')
  const { error } = await migrator.migrateTo('0012_create_web_session')
  t.error(error, 'down')
  t.equal(Number((await sql<{ n: number }>`select count(*)::int as n from audit_event`.execute(db)).rows[0]!.n), 4, 'down keeps the events')
  await migrateToLatest(db)
  t.equal((await walkChain(db)).problem, undefined, 'up again re-chains them')
})

t.test('ok/concurrent writers on two pools (two replicas) form one chain', { skip: databaseKind !== 'postgres' && 'needs PostgreSQL (DATABASE_URL)' }, async (t) => {
  const url = await freshPostgresUrl(t)
  const a = await openDatabase({ url, dataDir: '', poolSize: 8 })
  t.teardown(() => a.close())
  await migrateToLatest(a.db)
  const b = await openDatabase({ url, dataDir: '', poolSize: 8 })
  t.teardown(() => b.close())
  const writes = (db: Db, name: string) =>
    Array.from({ length: 200 }, (_, i) =>
      i % 4 === 0
        ? db.transaction().execute(async (trx) => {
            await insert(trx, `${name}.${i}.first`)
            await insert(trx, `${name}.${i}.second`)
          })
        : insert(db, `${name}.${i}`),
    )
  await Promise.all([...writes(a.db, 'a'), ...writes(b.db, 'b')])
  const walk = await walkChain(a.db)
  t.equal(walk.problem, undefined, 'chain intact')
  t.equal(walk.events, 500, '2 × (150 single + 50 two-event transactions)')
  t.equal(walk.last?.seq, '500', 'seq 1..500 without gaps')
})

t.test('ok/concurrent writers on one database form one chain', async (t) => {
  const { db } = await testDatabase(t)
  await Promise.all(Array.from({ length: 400 }, (_, i) => insert(db, `c.${i}`)))
  const walk = await walkChain(db)
  t.equal(walk.problem, undefined)
  t.equal(walk.events, 400)
})
