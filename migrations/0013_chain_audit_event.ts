import { sql, type Kysely } from 'kysely'

/**
 * The audit log becomes append-only and hash-chained, so that a changed,
 * removed or inserted event shows (`kagi audit verify`):
 *
 * - audit_event gets `client_ip` (the request's address, when there is one)
 *   and the chain columns `seq`, `prev_hash`, `hash`, which a BEFORE INSERT
 *   trigger fills for every writer, whatever it supplied: it locks the one
 *   row of `audit_chain_head` (so concurrent transactions, on any number of
 *   replicas, queue up and form ONE chain), takes seq = head.seq + 1 and
 *   prev_hash = head.hash, and sets
 *
 *       hash = sha256(prev_hash || canonical)
 *
 *   where canonical is the UTF-8 text
 *
 *       'kagi-audit-v1' LF f(id) f(at) f(actor) f(action) f(serial) f(client_ip) f(details)
 *
 *   with f(NULL) = '-', f(v) = <byte length of v in UTF-8, decimal> ':' v,
 *   `at` as ISO 8601 UTC with microseconds (2025-01-31T08:00:00.123456Z) and
 *   `details` as jsonb's text form (details::text, which PostgreSQL prints
 *   in one canonical way: keys sorted, ", " and ": " separators). seq 1 has
 *   prev_hash = 32 zero bytes. seq itself is not hashed: the position is
 *   fixed by the links and by the signed heads (seq, hash). The same encoding
 *   is rebuilt in TypeScript by src/db/audit-chain.ts.
 * - UPDATE, DELETE and TRUNCATE of audit_event are refused by triggers.
 * - audit_head keeps chain heads signed by the audit-signer credential
 *   (src/use-cases/audit-heads.ts); it is append-only too.
 *
 * Existing events are chained here, in id order. sha256(bytea) is built in
 * (PostgreSQL 11+, PGlite): no pgcrypto.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table audit_event add column client_ip text, add column seq bigint, add column prev_hash bytea, add column hash bytea`.execute(db)
  await db.schema
    .createTable('audit_chain_head')
    .addColumn('id', 'boolean', (c) => c.primaryKey().defaultTo(true).check(sql`id`))
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'bytea', (c) => c.notNull())
    .execute()
  await sql`
    create function audit_event_field(v text) returns text language sql stable as $$
      select case when v is null then '-' else octet_length(convert_to(v, 'UTF8'))::text || ':' || v end
    $$`.execute(db)
  await sql`
    create function audit_event_canonical(id bigint, at timestamptz, actor text, action text, serial text, client_ip text, details jsonb)
    returns bytea language sql stable as $$
      select convert_to('kagi-audit-v1' || chr(10)
        || audit_event_field(id::text)
        || audit_event_field(to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || audit_event_field(actor) || audit_event_field(action) || audit_event_field(serial)
        || audit_event_field(client_ip) || audit_event_field(details::text), 'UTF8')
    $$`.execute(db)
  await sql`
    do $$
    declare
      r record;
      h bytea := decode(repeat('00', 32), 'hex');
      n bigint := 0;
    begin
      for r in select id, at, actor, action, serial, client_ip, details from audit_event order by id loop
        n := n + 1;
        update audit_event set seq = n, prev_hash = h,
            hash = sha256(h || audit_event_canonical(r.id, r.at, r.actor, r.action, r.serial, r.client_ip, r.details))
          where id = r.id returning hash into h;
      end loop;
      insert into audit_chain_head (seq, hash) values (n, h);
    end $$`.execute(db)
  await sql`alter table audit_event alter column seq set not null, alter column prev_hash set not null, alter column hash set not null`.execute(db)
  await sql`create unique index audit_event_seq on audit_event (seq)`.execute(db)
  await sql`
    create function audit_event_chain() returns trigger language plpgsql as $$
    declare
      head audit_chain_head%rowtype;
    begin
      select * into head from audit_chain_head for update;
      if not found then raise exception 'audit_chain_head is missing: the audit chain cannot continue'; end if;
      new.seq := head.seq + 1;
      new.prev_hash := head.hash;
      new.hash := sha256(head.hash || audit_event_canonical(new.id, new.at, new.actor, new.action, new.serial, new.client_ip, new.details));
      update audit_chain_head set seq = new.seq, hash = new.hash;
      return new;
    end $$`.execute(db)
  await sql`create trigger audit_event_chain before insert on audit_event for each row execute function audit_event_chain()`.execute(db)
  // A bug or a stray statement must not change history; someone who can disable triggers is caught by the chain.
  await sql`
    create function audit_append_only() returns trigger language plpgsql as $$
    begin
      raise exception '% is append-only: % refused', tg_table_name, tg_op;
    end $$`.execute(db)
  await sql`create trigger audit_event_append_only before update or delete on audit_event for each row execute function audit_append_only()`.execute(db)
  await sql`create trigger audit_event_no_truncate before truncate on audit_event for each statement execute function audit_append_only()`.execute(db)
  await sql`create trigger audit_chain_head_kept before delete on audit_chain_head for each row execute function audit_append_only()`.execute(db)
  await sql`create trigger audit_chain_head_no_truncate before truncate on audit_chain_head for each statement execute function audit_append_only()`.execute(db)
  await db.schema
    .createTable('audit_head')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('hash', 'bytea', (c) => c.notNull())
    .addColumn('signature', 'bytea', (c) => c.notNull())
    .addColumn('signer_serial', 'text', (c) => c.notNull())
    .addColumn('signed_at', 'timestamptz', (c) => c.notNull())
    .execute()
  await sql`create trigger audit_head_append_only before update or delete on audit_head for each row execute function audit_append_only()`.execute(db)
  await sql`create trigger audit_head_no_truncate before truncate on audit_head for each statement execute function audit_append_only()`.execute(db)
}

/** Back to the plain table of 0006 (the chain columns and signed heads are dropped; the events stay). */
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_head').execute()
  await sql`drop trigger audit_event_chain on audit_event`.execute(db)
  await sql`drop trigger audit_event_append_only on audit_event`.execute(db)
  await sql`drop trigger audit_event_no_truncate on audit_event`.execute(db)
  await db.schema.dropTable('audit_chain_head').execute()
  await sql`drop function audit_append_only()`.execute(db)
  await sql`drop function audit_event_chain()`.execute(db)
  await sql`drop function audit_event_canonical(bigint, timestamptz, text, text, text, text, jsonb)`.execute(db)
  await sql`drop function audit_event_field(text)`.execute(db)
  await sql`drop index audit_event_seq`.execute(db)
  await sql`alter table audit_event drop column hash, drop column prev_hash, drop column seq, drop column client_ip`.execute(db)
}
