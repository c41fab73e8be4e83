import { sql, type Kysely } from 'kysely'

/**
 * The certificate that signs configuration profiles (CMS SignedData, so that
 * Apple devices show them as verified), with its key encrypted like the CA
 * keys. One active row per issuing CA; renewed before it expires.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('profile_signer')
    .addColumn('serial', 'text', (c) => c.primaryKey())
    .addColumn('ca_serial', 'text', (c) => c.notNull())
    .addColumn('der', 'bytea', (c) => c.notNull())
    .addColumn('encrypted_key', 'text', (c) => c.notNull())
    .addColumn('not_after', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('profile_signer_ca').on('profile_signer').columns(['ca_serial', 'not_after']).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('profile_signer').execute()
}
