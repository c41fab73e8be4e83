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

/** Email → id of an existing user, or undefined; `remember` adds a user the enrollment store just created. */
export interface UserLookup {
  (email: string): Promise<string | undefined>
  remember(email: string, id: string): void
}

/**
 * Finds user ids by email without creating anyone (the enrollment store
 * creates users, in the enrollment's transaction), with an in-memory cache of
 * found users: users are never deleted, so a cached id stays valid. Saves a
 * database round trip on every issuance for a known user.
 */
export function createUserLookup(db: Kysely<Database>, maxEntries = 50_000): UserLookup {
  const cache = new Map<string, string>()
  const remember = (email: string, id: string): void => {
    if (cache.size >= maxEntries) cache.clear()
    cache.set(email.toLowerCase(), id)
  }
  const lookup = async (email: string): Promise<string | undefined> => {
    const hit = cache.get(email.toLowerCase())
    if (hit) return hit
    const user = await findUserByEmail(db, email)
    if (user) remember(email, user.id)
    return user?.id
  }
  return Object.assign(lookup, { remember })
}
