import { sql, type Kysely } from 'kysely'

/**
 * Indexes for the administrators' searches (src/db/admin-queries.ts): every
 * `q` is a case-insensitive prefix, `lower(column) like 'abc%'`, which a btree
 * with text_pattern_ops answers whatever the database's collation (a plain
 * btree serves LIKE only under the C collation). Certificate serials are
 * lowercase hex already, so that index is on the column itself. The audit
 * log is read newest first (audit_event_at, migration 0006), by actor, and
 * by the details keys that name a device or a user (device.revoked
 * `deviceId`, session.ended and user.revoked `email`,
 * device.hostname-reassigned `to`), each index partial: most events have
 * none of them.
 * Also the count of a user's devices (device_owner_match starts with
 * user_id already) and of a device's certificates (certificate_device).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index app_user_email_prefix on app_user (lower(email) text_pattern_ops)`.execute(db)
  await sql`create index app_user_display_name_prefix on app_user (lower(display_name) text_pattern_ops)`.execute(db)
  await sql`create index device_name_prefix on device (lower(name) text_pattern_ops)`.execute(db)
  await sql`create index device_hostname_prefix on device (lower(hostname) text_pattern_ops)`.execute(db)
  await sql`create index device_serial_number_prefix on device (lower(serial_number) text_pattern_ops)`.execute(db)
  await sql`create index device_created_at on device (created_at)`.execute(db)
  await sql`create index certificate_serial_prefix on certificate (serial text_pattern_ops)`.execute(db)
  await sql`create index audit_event_actor on audit_event (actor, at)`.execute(db)
  await sql`create index audit_event_device_id on audit_event ((details->>'deviceId')) where details->>'deviceId' is not null`.execute(db)
  await sql`create index audit_event_email on audit_event ((details->>'email')) where details->>'email' is not null`.execute(db)
  await sql`create index audit_event_to on audit_event ((details->>'to')) where details->>'to' is not null`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const name of [
    'audit_event_to',
    'audit_event_email',
    'audit_event_device_id',
    'audit_event_actor',
    'certificate_serial_prefix',
    'device_created_at',
    'device_serial_number_prefix',
    'device_hostname_prefix',
    'device_name_prefix',
    'app_user_display_name_prefix',
    'app_user_email_prefix',
  ]) {
    await sql`drop index ${sql.id(name)}`.execute(db)
  }
}
