import type { Kysely } from 'kysely'
import type { Database } from './database.js'

/** The newest responder certificate of a CA that is still valid at `validAfter`. */
export async function findResponder(db: Kysely<Database>, caSerial: string, validAfter: Date) {
  return db
    .selectFrom('ocsp_responder')
    .selectAll()
    .where('ca_serial', '=', caSerial)
    .where('not_after', '>', validAfter)
    .orderBy('not_after', 'desc')
    .limit(1)
    .executeTakeFirst()
}

/** Records a new responder certificate with its encrypted key, and an audit event. */
export async function saveResponder(
  db: Kysely<Database>,
  row: { serial: string; caSerial: string; der: Buffer; encryptedKey: string; notAfter: Date },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('ocsp_responder').values({ serial: row.serial, ca_serial: row.caSerial, der: row.der, encrypted_key: row.encryptedKey, not_after: row.notAfter }).execute()
    await trx
      .insertInto('audit_event')
      .values({ actor: 'kagi', action: 'ocsp-responder.issued', serial: row.serial, details: JSON.stringify({ notAfter: row.notAfter.toISOString() }) })
      .execute()
  })
}

/** Current status rows for a set of serials (OCSP answers several in one query). */
export async function statusesOf(db: Kysely<Database>, serials: readonly string[]) {
  if (serials.length === 0) return []
  return db
    .selectFrom('certificate')
    .select(['serial', 'status', 'revoked_at', 'revocation_reason', 'issuer_serial'])
    .where('serial', 'in', serials)
    .execute()
}
