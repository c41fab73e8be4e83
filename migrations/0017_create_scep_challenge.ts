import { sql, type Kysely } from 'kysely'

/**
 * SCEP (RFC 8894) state:
 * - scep_challenge: one-time challenge passwords (§2.3 challengePassword).
 *   Only a SHA-256 of each is kept (they are 128-bit random, so a fast hash
 *   suffices). A `record` challenge is bound to one user, optionally one
 *   device, and one profile; an `ndes` challenge (from /certsrv/mscep_admin/,
 *   the NDES protocol MDMs and the GlobalProtect portal speak) is bound to
 *   the token that asked for it, and the identity comes from kagi's records
 *   of what the CSR names. `used_at` and `serial` are set in the transaction
 *   that stores the certificate, so a challenge is spent exactly when a
 *   certificate exists for it.
 * - scep_transaction: transactionID + the requester's key → the certificate
 *   issued, so a client whose CertRep was lost asks again with
 *   GetCertInitial (§3.3.3) and gets the same certificate instead of a
 *   second one.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('scep_challenge')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('challenge_hash', 'bytea', (c) => c.notNull().unique())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('record', 'ndes')`))
    .addColumn('email', 'text')
    .addColumn('device', 'jsonb')
    .addColumn('profile', 'text')
    .addColumn('token_id', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .addColumn('serial', 'text')
    .execute()
  await db.schema.createIndex('scep_challenge_expires').on('scep_challenge').column('expires_at').execute()
  await db.schema
    .createTable('scep_transaction')
    .addColumn('transaction_id', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'bytea', (c) => c.notNull())
    .addColumn('serial', 'text', (c) => c.notNull().references('certificate.serial'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('scep_transaction_pkey', ['transaction_id', 'key_hash'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('scep_transaction').execute()
  await db.schema.dropTable('scep_challenge').execute()
}
