import { sql, type Kysely } from 'kysely'
import type { Database, SessionEndReason } from './database.js'

/** The newest session cookie key (the one in use), encrypted. */
export async function newestSessionKey(db: Kysely<Database>): Promise<{ id: number; encrypted_key: string } | undefined> {
  return db.selectFrom('session_key').select(['id', 'encrypted_key']).orderBy('id', 'desc').limit(1).executeTakeFirst()
}

/** Stores key number `id`; false when another process stored that number first. */
export async function insertSessionKey(db: Kysely<Database>, id: number, encryptedKey: string): Promise<boolean> {
  const row = await db.insertInto('session_key').values({ id, encrypted_key: encryptedKey }).onConflict((oc) => oc.column('id').doNothing()).returning('id').executeTakeFirst()
  return Boolean(row)
}

/** What a new session records about the sign-in. */
export interface NewSessionRecord {
  id: string
  email: string
  via: string
  admin: boolean
  ip?: string
  userAgent?: string
}

export async function insertSessionRecord(db: Kysely<Database>, record: NewSessionRecord, now: Date): Promise<void> {
  await db
    .insertInto('web_session')
    .values({
      id: record.id,
      email: record.email,
      via: record.via,
      admin: record.admin,
      ip: record.ip ?? null,
      user_agent: record.userAgent?.slice(0, 200) ?? null,
      created_at: now,
      last_seen_at: now,
    })
    .execute()
}

/** The facts a request needs about its session, or undefined when there is no such record. */
export async function findSessionRecord(db: Kysely<Database>, id: string) {
  return db.selectFrom('web_session').select(['created_at', 'last_seen_at', 'ended_at', 'end_reason']).where('id', '=', id).executeTakeFirst()
}

export async function touchSessionRecord(db: Kysely<Database>, id: string, now: Date): Promise<void> {
  await db.updateTable('web_session').set({ last_seen_at: now }).where('id', '=', id).where('ended_at', 'is', null).execute()
}

/** Ends open sessions: one (`id`), one user's (`email`) or all. Returns how many were open. */
export async function endSessionRecords(db: Kysely<Database>, which: { id?: string; email?: string }, reason: SessionEndReason): Promise<number> {
  let query = db.updateTable('web_session').set({ ended_at: sql`now()`, end_reason: reason }).where('ended_at', 'is', null)
  if (which.id !== undefined) query = query.where('id', '=', which.id)
  if (which.email !== undefined) query = query.where('email', '=', which.email.toLowerCase())
  const result = await query.executeTakeFirst()
  return Number(result.numUpdatedRows)
}
