import { sql, type Kysely } from 'kysely'

/**
 * "Last seen by the VPN": per certificate, how many OCSP requests asked
 * about it and when the last one came (README "Last seen by the VPN"). Kept
 * apart from `certificate` so that the responder's batched writes never
 * contend with issuance and revocation for certificate rows. Each replica
 * adds its own counts (insert … on conflict do update), so the row is the
 * sum over replicas.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('ocsp_check')
    .addColumn('serial', 'text', (c) => c.primaryKey().references('certificate.serial'))
    .addColumn('checks', 'bigint', (c) => c.notNull().check(sql`checks > 0`))
    .addColumn('last_checked_at', 'timestamptz', (c) => c.notNull())
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('ocsp_check').execute()
}
