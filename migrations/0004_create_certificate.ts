import { sql, type Kysely } from 'kysely'

/**
 * Every certificate kagi issued. The serial (lowercase hex) is the primary
 * key, so the database enforces uniqueness. Rows are never deleted: a
 * revocation must survive as long as the certificate could be presented.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('certificate')
    .addColumn('serial', 'text', (c) => c.primaryKey())
    .addColumn('der', 'bytea', (c) => c.notNull())
    .addColumn('profile', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('key_type', 'text', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('app_user.id'))
    .addColumn('device_id', 'uuid', (c) => c.references('device.id'))
    .addColumn('issuer_serial', 'text', (c) => c.notNull())
    .addColumn('not_before', 'timestamptz', (c) => c.notNull())
    .addColumn('not_after', 'timestamptz', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active').check(sql`status in ('active', 'revoked')`))
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revocation_reason', 'text')
    .addColumn('issued_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('certificate_user').on('certificate').column('user_id').execute()
  await db.schema.createIndex('certificate_device').on('certificate').column('device_id').execute()
  await db.schema.createIndex('certificate_not_after').on('certificate').column('not_after').execute()
  await sql`create index certificate_revoked on certificate (revoked_at) where status = 'revoked'`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('certificate').execute()
}
