import { randomUUID } from 'node:crypto'
import type { Kysely, Transaction } from 'kysely'
import type { Database } from './database.js'

type Executor = Kysely<Database> | Transaction<Database>

/** Returns the user's id, creating the user on first use (emails are stored lowercased). */
export async function upsertUser(db: Executor, email: string, displayName?: string): Promise<{ id: string; email: string }> {
  const normalized = email.toLowerCase()
  return db
    .insertInto('app_user')
    .values({ id: randomUUID(), email: normalized, display_name: displayName ?? null })
    .onConflict((oc) =>
      oc.column('email').doUpdateSet((eb) => ({ display_name: displayName === undefined ? eb.ref('app_user.display_name') : eb.ref('excluded.display_name') })),
    )
    .returning(['id', 'email'])
    .executeTakeFirstOrThrow()
}

export async function findUserByEmail(db: Executor, email: string) {
  return db.selectFrom('app_user').selectAll().where('email', '=', email.toLowerCase()).executeTakeFirst()
}

/**
 * Resolves emails to user ids, creating users on first use, with an
 * in-memory cache (users are never deleted, so a cached id stays valid).
 * Saves a database round trip on every issuance for a known user.
 */
export function createUserResolver(db: Kysely<Database>, maxEntries = 50_000): (email: string) => Promise<{ id: string; email: string }> {
  const cache = new Map<string, { id: string; email: string }>()
  return async (email) => {
    const key = email.toLowerCase()
    const hit = cache.get(key)
    if (hit) return hit
    const user = await upsertUser(db, key)
    if (cache.size >= maxEntries) cache.clear()
    cache.set(key, user)
    return user
  }
}
