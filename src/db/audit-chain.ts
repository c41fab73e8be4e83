import { createHash } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import type { Database } from './database.js'

/**
 * The audit log's hash chain (migration 0013), rebuilt outside SQL. Every
 * event stores `hash = SHA-256(prev_hash || canonical)`, where canonical is
 * the UTF-8 text
 *
 *     "kagi-audit-v1" LF f(id) f(at) f(actor) f(action) f(serial) f(client_ip) f(details)
 *
 * f(null) = "-", f(v) = <UTF-8 byte length of v, decimal> ":" v; `at` is ISO
 * 8601 UTC with microseconds ("2025-01-31T08:00:00.123456Z"); `details` is
 * jsonb's text form (`details::text`), PostgreSQL's one canonical rendering
 * of a jsonb value, read as text so no JSON library re-serializes it. The
 * first event (seq 1) has prev_hash = 32 zero bytes. seq is not hashed: an
 * event's place is fixed by the links, gaps show as missing numbers, and
 * signed heads bind a seq to its hash.
 */

/** The prev_hash of the first event. */
export const GENESIS_HASH = Buffer.alloc(32)

/** One event as the chain sees it: every hashed field as text, as the database renders it. */
export interface ChainedEvent {
  seq: string
  id: string
  /** Microseconds since 1970-01-01T00:00:00Z, decimal. */
  atMicros: string
  actor: string
  action: string
  serial: string | null
  clientIp: string | null
  /** `details::text`. */
  details: string
  prevHash: Buffer
  hash: Buffer
}

/** ISO 8601 UTC with microseconds, as the trigger's `to_char(… 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`. */
export function isoMicros(atMicros: string | bigint): string {
  const us = BigInt(atMicros)
  const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n)
  const sub = us - ms * 1000n
  return new Date(Number(ms)).toISOString().replace('Z', `${sub.toString().padStart(3, '0')}Z`)
}

const field = (v: string | null): string => (v === null ? '-' : `${Buffer.byteLength(v, 'utf8')}:${v}`)

/** The canonical encoding of one event (the bytes hashed after prev_hash). */
export function canonicalEvent(e: Omit<ChainedEvent, 'seq' | 'prevHash' | 'hash'>): Buffer {
  const text = ['kagi-audit-v1\n', field(e.id), field(isoMicros(e.atMicros)), field(e.actor), field(e.action), field(e.serial), field(e.clientIp), field(e.details)].join('')
  return Buffer.from(text, 'utf8')
}

/** SHA-256(prevHash || canonical(e)): what the trigger stores as the event's hash. */
export function eventHash(prevHash: Buffer, e: Omit<ChainedEvent, 'seq' | 'prevHash' | 'hash'>): Buffer {
  return createHash('sha256').update(prevHash).update(canonicalEvent(e)).digest()
}

/**
 * The first thing wrong with the chain: `altered` (an event's content no
 * longer matches its hash, or it was replaced with a recomputed hash),
 * `removed` (a seq missing, events gone from the start or the end),
 * `inserted` (an event slipped in, a seq held twice, events written past the
 * trigger), `truncated` (the chain head itself is gone).
 */
export interface ChainProblem {
  kind: 'altered' | 'removed' | 'inserted' | 'truncated'
  /** The event named (for `removed`: the first missing seq). */
  seq: string
  id?: string
  message: string
}

/** What walking the chain found. */
export interface ChainWalk {
  /** Events read (up to the first problem). */
  events: number
  /** The last event read: its seq and hash; undefined for an empty log. */
  last?: { seq: string; hash: Buffer }
  /** Undefined when the chain is intact. */
  problem?: ChainProblem
  /** The chain's hash at each seq asked for in {@link WalkOptions.hashesAt} that the walk reached. */
  hashesAt: Map<string, Buffer>
}

/** Options for {@link walkChain}. */
export interface WalkOptions {
  /** Rows per query; default 5,000. */
  batchSize?: number
  /** Seqs whose hash to report (the signed heads). */
  hashesAt?: ReadonlySet<string>
  /** Called every `progressEvery` events (default 10,000) with the count so far. */
  onProgress?: (events: number) => void
  progressEvery?: number
}

const describe = (e: ChainedEvent): string => `event seq ${e.seq} (id ${e.id}, ${e.action} at ${isoMicros(e.atMicros)})`

/**
 * Reads every event in seq order, in batches, recomputing each hash and
 * checking each link and the chain head, and stops at the first
 * {@link ChainProblem}, which names the event.
 */
export async function walkChain(db: Kysely<Database>, options: WalkOptions = {}): Promise<ChainWalk> {
  const batchSize = options.batchSize ?? 5000
  const every = options.progressEvery ?? 10_000
  const hashesAt = new Map<string, Buffer>()
  let events = 0
  let previous: ChainedEvent | undefined
  let beforePrevious: Buffer = GENESIS_HASH
  let after: { seq: string; id: string } | undefined
  const fail = (problem: ChainProblem): ChainWalk => ({ events, last: previous && { seq: previous.seq, hash: previous.hash }, problem, hashesAt })
  for (;;) {
    const batch = await readBatch(db, after, batchSize)
    for (const e of batch) {
      const expected = previous ? BigInt(previous.seq) + 1n : 1n
      const seq = BigInt(e.seq)
      if (previous && seq === BigInt(previous.seq)) {
        return fail({ kind: 'inserted', seq: e.seq, id: e.id, message: `two events have seq ${e.seq} (ids ${previous.id} and ${e.id}): ${describe(e)} or the other was inserted` })
      }
      if (seq !== expected) {
        const range = seq - 1n === expected ? `seq ${expected}` : `seq ${expected}..${seq - 1n}`
        return fail({ kind: seq > expected ? 'removed' : 'inserted', seq: seq > expected ? expected.toString() : e.seq, id: seq > expected ? undefined : e.id,
          message: seq > expected ? `event ${range} was removed: the chain goes from ${previous ? `seq ${previous.seq}` : 'its start'} to ${describe(e)}` : `${describe(e)} was inserted: seq starts at 1` })
      }
      if (!eventHash(e.prevHash, e).equals(e.hash)) {
        return fail({ kind: 'altered', seq: e.seq, id: e.id, message: `${describe(e)} was altered: its content does not match its hash` })
      }
      if (!e.prevHash.equals(previous?.hash ?? GENESIS_HASH)) {
        if (!previous) return fail({ kind: 'removed', seq: '1', id: e.id, message: `events before ${describe(e)} were removed: it was chained to an earlier event` })
        // Chained to the event before the previous one: the previous one was slipped in between.
        if (e.prevHash.equals(beforePrevious)) {
          return fail({ kind: 'inserted', seq: previous.seq, id: previous.id, message: `${describe(previous)} was inserted: ${describe(e)} was chained to the event before it` })
        }
        return fail({ kind: 'altered', seq: previous.seq, id: previous.id, message: `${describe(previous)} was replaced, or events after it were removed: ${describe(e)} was chained to another event` })
      }
      events++
      if (options.hashesAt?.has(e.seq)) hashesAt.set(e.seq, e.hash)
      if (options.onProgress && events % every === 0) options.onProgress(events)
      beforePrevious = previous?.hash ?? GENESIS_HASH
      previous = e
    }
    if (batch.length < batchSize) break
    after = { seq: previous!.seq, id: previous!.id }
  }
  const head = await db.selectFrom('audit_chain_head').select(['seq', 'hash']).executeTakeFirst()
  const lastSeq = previous?.seq ?? '0'
  if (!head) return fail({ kind: 'truncated', seq: lastSeq, message: 'the chain head (audit_chain_head) was removed' })
  if (BigInt(head.seq) > BigInt(lastSeq)) {
    return fail({ kind: 'removed', seq: (BigInt(lastSeq) + 1n).toString(), message: `events seq ${BigInt(lastSeq) + 1n}..${head.seq} were removed from the end of the chain (its head is at seq ${head.seq})` })
  }
  if (BigInt(head.seq) < BigInt(lastSeq) || !Buffer.from(head.hash).equals(previous?.hash ?? GENESIS_HASH)) {
    return fail({ kind: 'inserted', seq: lastSeq, id: previous?.id, message: `the chain head (seq ${head.seq}) does not match the last event, seq ${lastSeq}: events were written past the trigger` })
  }
  return { events, last: previous && { seq: previous.seq, hash: previous.hash }, hashesAt }
}

async function readBatch(db: Kysely<Database>, after: { seq: string; id: string } | undefined, limit: number): Promise<ChainedEvent[]> {
  const { rows } = await sql<{ seq: string; id: string; at_us: string; actor: string; action: string; serial: string | null; client_ip: string | null; details: string; prev_hash: Uint8Array; hash: Uint8Array }>`
    select seq::text as seq, id::text as id, (extract(epoch from at) * 1000000)::bigint::text as at_us, actor, action, serial, client_ip,
      details::text as details, prev_hash, hash
    from audit_event
    ${after ? sql`where seq >= ${after.seq}::bigint and (seq > ${after.seq}::bigint or id > ${after.id}::bigint)` : sql``}
    order by audit_event.seq, audit_event.id
    limit ${limit}`.execute(db)
  return rows.map((r) => ({
    seq: r.seq,
    id: r.id,
    atMicros: r.at_us,
    actor: r.actor,
    action: r.action,
    serial: r.serial,
    clientIp: r.client_ip,
    details: r.details,
    prevHash: Buffer.from(r.prev_hash ?? []),
    hash: Buffer.from(r.hash ?? []),
  }))
}

/** The outcome of one `kagi audit verify`, as recorded in its `audit.verified` event. */
export interface VerificationRecord {
  ok: boolean
  events: number
  /** seq of the newest valid signed head, if any. */
  signedSeq: string | null
  /** What failed, for a failed verification. */
  problem: string | null
}

/** Records a verification as an `audit.verified` event (so the dashboard can show the last one). */
export async function recordVerification(db: Kysely<Database>, actor: string, record: VerificationRecord): Promise<void> {
  await db.insertInto('audit_event').values({ actor, action: 'audit.verified', serial: null, details: JSON.stringify(record) }).execute()
}

/** The last recorded verification (`audit.verified` event), or undefined when none ran yet. */
export async function lastVerification(db: Kysely<Database>): Promise<(VerificationRecord & { at: Date; actor: string }) | undefined> {
  const row = await db
    .selectFrom('audit_event')
    .select(['at', 'actor', 'details'])
    .where('action', '=', 'audit.verified')
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst()
  if (!row) return undefined
  const d = row.details as Partial<VerificationRecord>
  return { at: new Date(row.at), actor: row.actor, ok: d.ok === true, events: Number(d.events ?? 0), signedSeq: d.signedSeq ?? null, problem: d.problem ?? null }
}
