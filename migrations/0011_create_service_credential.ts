import { sql, type Kysely } from 'kysely'

/**
 * One table for the certificates kagi issues to itself (the delegated OCSP
 * responder, the profile signer), which had a table each (0007, 0009) with
 * the same columns and the same life cycle: `purpose` tells them apart. The
 * rows are copied, so neither certificate is re-issued on upgrade. The index
 * serves the one lookup: the newest row of a purpose for the current issuing
 * CA.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('service_credential')
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('serial', 'text', (c) => c.primaryKey())
    .addColumn('ca_serial', 'text', (c) => c.notNull())
    .addColumn('der', 'bytea', (c) => c.notNull())
    .addColumn('encrypted_key', 'text', (c) => c.notNull())
    .addColumn('not_after', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('service_credential_current').on('service_credential').columns(['purpose', 'ca_serial', 'not_after']).execute()
  for (const [purpose, table] of [['ocsp-responder', 'ocsp_responder'], ['profile-signer', 'profile_signer']] as const) {
    await sql`insert into service_credential (purpose, serial, ca_serial, der, encrypted_key, not_after, created_at)
      select ${sql.lit(purpose)}, serial, ca_serial, der, encrypted_key, not_after, created_at from ${sql.table(table)}`.execute(db)
    await db.schema.dropTable(table).execute()
  }
}

/** Restores the two tables of 0007 and 0009, with their rows. */
export async function down(db: Kysely<any>): Promise<void> {
  for (const [purpose, table] of [['ocsp-responder', 'ocsp_responder'], ['profile-signer', 'profile_signer']] as const) {
    await db.schema
      .createTable(table)
      .addColumn('serial', 'text', (c) => c.primaryKey())
      .addColumn('ca_serial', 'text', (c) => c.notNull())
      .addColumn('der', 'bytea', (c) => c.notNull())
      .addColumn('encrypted_key', 'text', (c) => c.notNull())
      .addColumn('not_after', 'timestamptz', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute()
    await sql`insert into ${sql.table(table)} (serial, ca_serial, der, encrypted_key, not_after, created_at)
      select serial, ca_serial, der, encrypted_key, not_after, created_at from service_credential where purpose = ${sql.lit(purpose)}`.execute(db)
  }
  await db.schema.createIndex('profile_signer_ca').on('profile_signer').columns(['ca_serial', 'not_after']).execute()
  await db.schema.dropTable('service_credential').execute()
}
