import type { Kysely } from 'kysely'

/** When each API token was last used (the admin console's token list); written at most once a minute per token. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_token').addColumn('last_used_at', 'timestamptz').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_token').dropColumn('last_used_at').execute()
}
