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
