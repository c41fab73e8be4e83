import { sql, type Kysely } from 'kysely'

/**
 * At most one active certificate per (device, profile), enforced by the
 * database so that two enrollments of one device racing on two replicas
 * cannot both leave a certificate active. Before the index can exist, the
 * duplicates earlier versions left behind (the page re-enrolled without
 * superseding) are revoked as superseded (RFC 5280 §5.3.1), newest kept,
 * each with its audit event. The CRL publisher notices the new revocations at
 * start (its count changes) and re-signs.
 *
 * Also an index for "which user's active device certificate holds this host
 * name", asked on every device enrollment.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    with ranked as (
      select serial, row_number() over (partition by device_id, profile order by issued_at desc, serial desc) as n
      from certificate
      where status = 'active' and device_id is not null
    ), superseded as (
      update certificate c set status = 'revoked', revoked_at = now(), revocation_reason = 'superseded'
      from ranked r
      where c.serial = r.serial and r.n > 1
      returning c.serial
    )
    insert into audit_event (actor, action, serial, details)
    select 'kagi', 'certificate.revoked', serial, '{"reason":"superseded","why":"migration 0010: one active certificate per device and profile"}'::jsonb
    from superseded`.execute(db)
  await sql`create unique index certificate_one_active on certificate (device_id, profile) where status = 'active' and device_id is not null`.execute(db)
  await sql`create index certificate_active_device_subject on certificate (subject) where status = 'active' and profile = 'device'`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index certificate_active_device_subject`.execute(db)
  await sql`drop index certificate_one_active`.execute(db)
}
