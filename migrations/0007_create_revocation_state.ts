import { sql, type Kysely } from 'kysely'

/**
 * Revocation state: the CRL number sequence (monotonic across restarts and
 * replicas), the current CRL per CA, the delegated OCSP responder, and a
 * trigger that makes revocations permanent.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create sequence crl_number_seq start with 1`.execute(db)
  await db.schema
    .createTable('crl_current')
    .addColumn('ca_serial', 'text', (c) => c.primaryKey())
    .addColumn('crl_number', 'bigint', (c) => c.notNull())
    .addColumn('this_update', 'timestamptz', (c) => c.notNull())
    .addColumn('next_update', 'timestamptz', (c) => c.notNull())
    .addColumn('entries', 'integer', (c) => c.notNull())
    .addColumn('der', 'bytea', (c) => c.notNull())
    .execute()
  await db.schema
    .createTable('ocsp_responder')
    .addColumn('serial', 'text', (c) => c.primaryKey())
    .addColumn('ca_serial', 'text', (c) => c.notNull())
    .addColumn('der', 'bytea', (c) => c.notNull())
    .addColumn('encrypted_key', 'text', (c) => c.notNull())
    .addColumn('not_after', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  // A revoked certificate stays revoked, with its first time and reason, and is never deleted
  // (a bug or a stray UPDATE must not bring it back to life).
  await sql`
    create function certificate_revocation_is_final() returns trigger language plpgsql as $$
    begin
      if tg_op = 'DELETE' then
        if old.status = 'revoked' then raise exception 'revoked certificate % cannot be deleted', old.serial; end if;
        return old;
      end if;
      if old.status = 'revoked' and (new.status <> 'revoked' or new.revoked_at is distinct from old.revoked_at
          or new.revocation_reason is distinct from old.revocation_reason) then
        raise exception 'revocation of certificate % is final', old.serial;
      end if;
      return new;
    end $$`.execute(db)
  await sql`create trigger certificate_revocation_is_final before update or delete on certificate
    for each row execute function certificate_revocation_is_final()`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger certificate_revocation_is_final on certificate`.execute(db)
  await sql`drop function certificate_revocation_is_final()`.execute(db)
  await db.schema.dropTable('ocsp_responder').execute()
  await db.schema.dropTable('crl_current').execute()
  await sql`drop sequence crl_number_seq`.execute(db)
}
