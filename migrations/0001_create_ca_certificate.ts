import { sql, type Kysely } from 'kysely'

/** CA certificates and their encrypted keys: the root and the issuing CA, with history. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('ca_certificate')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('root', 'issuing')`))
    .addColumn('serial', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('der', 'bytea', (c) => c.notNull())
    // PKCS#8 EncryptedPrivateKeyInfo (PBES2, AES-256-CBC, PBKDF2-SHA256) as PEM; never plaintext.
    .addColumn('encrypted_key', 'text', (c) => c.notNull())
    .addColumn('key_type', 'text', (c) => c.notNull())
    .addColumn('not_after', 'timestamptz', (c) => c.notNull())
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  // At most one active root and one active issuing CA.
  await sql`create unique index ca_certificate_one_active on ca_certificate (role) where active`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('ca_certificate').execute()
}
