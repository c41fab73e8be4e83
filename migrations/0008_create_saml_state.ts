import { sql, type Kysely } from 'kysely'

/**
 * SAML state shared by every replica:
 * - saml_request: IDs of the AuthnRequests kagi sent, so a Response's
 *   InResponseTo can be checked (SAML 2.0 Profiles §4.1.4.3) and used once;
 * - saml_assertion: IDs of consumed assertions until they expire, so a
 *   replayed assertion is refused (Profiles §4.1.4.5: "the service provider
 *   MUST ensure that bearer assertions are not replayed").
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('saml_request')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('saml_request_created_at').on('saml_request').column('created_at').execute()
  await db.schema
    .createTable('saml_assertion')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('consumed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('saml_assertion_expires_at').on('saml_assertion').column('expires_at').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('saml_assertion').execute()
  await db.schema.dropTable('saml_request').execute()
}
