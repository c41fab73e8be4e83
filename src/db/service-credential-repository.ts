import type { Kysely } from 'kysely'
import type { Database, ServiceCredentialPurpose } from './database.js'

/**
 * The newest credential for `purpose` issued by the CA `caSerial` that is
 * still valid at `validAfter`. Rows of a retired issuing CA never match: a
 * credential chains only to the CA that signed it.
 */
export async function findServiceCredential(db: Kysely<Database>, purpose: ServiceCredentialPurpose, caSerial: string, validAfter: Date) {
  return db
    .selectFrom('service_credential')
    .selectAll()
    .where('purpose', '=', purpose)
    .where('ca_serial', '=', caSerial)
    .where('not_after', '>', validAfter)
    .orderBy('not_after', 'desc')
    .limit(1)
    .executeTakeFirst()
}

/** A newly issued credential to record. */
export interface NewServiceCredential {
  purpose: ServiceCredentialPurpose
  serial: string
  caSerial: string
  der: Buffer
  encryptedKey: string
  notAfter: Date
}

/** Records a new credential and its audit event (`auditAction`) in one transaction. */
export async function saveServiceCredential(db: Kysely<Database>, row: NewServiceCredential, auditAction: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('service_credential')
      .values({ purpose: row.purpose, serial: row.serial, ca_serial: row.caSerial, der: row.der, encrypted_key: row.encryptedKey, not_after: row.notAfter })
      .execute()
    await trx
      .insertInto('audit_event')
      .values({ actor: 'kagi', action: auditAction, serial: row.serial, details: JSON.stringify({ notAfter: row.notAfter.toISOString() }) })
      .execute()
  })
}
