import { sql, type Kysely } from 'kysely'

/**
 * Server-side state of the employee page's sessions:
 * - session_key: the key of the session cookie, random, encrypted with the CA
 *   passphrase (PBKDF2, as the CA keys) so that every replica agrees on it
 *   and nothing about it can be guessed from the passphrase or a cookie. The
 *   newest row is the key in use; `kagi session rotate-key` adds one.
 * - web_session: one row per sign-in, checked on every request, so that
 *   logging out, rotating the key or ending a user's sessions ends a copied
 *   cookie too (OWASP Session Management: server-side invalidation).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('session_key')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('encrypted_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema
    .createTable('web_session')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('via', 'text', (c) => c.notNull())
    .addColumn('admin', 'boolean', (c) => c.notNull())
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('ended_at', 'timestamptz')
    .addColumn('end_reason', 'text')
    .execute()
  await db.schema.createIndex('web_session_email').on('web_session').columns(['email', 'created_at']).execute()
  await db.schema.createIndex('web_session_open').on('web_session').column('created_at').where(sql.ref('ended_at'), 'is', null).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('web_session').execute()
  await db.schema.dropTable('session_key').execute()
}
