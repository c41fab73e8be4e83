import type { Kysely } from 'kysely'
import { SerialConflictError, type AuditEvent, type CertificateOwner, type CertificateStore, type IssuedCertificate } from '../../ca/index.js'
import type { Database } from './database.js'

const UNIQUE_VIOLATION = '23505'

/**
 * The CA core's CertificateStore over kysely. The certificate row and its
 * audit row are written by one statement (a data-modifying CTE), which
 * PostgreSQL executes atomically: one round trip, and never one without the
 * other.
 */
export function createCertificateStore(db: Kysely<Database>, issuerSerial: () => string): CertificateStore {
  return {
    async saveIssued(cert: IssuedCertificate, owner: CertificateOwner, audit: AuditEvent): Promise<void> {
      try {
        await db
          .with('issued', (q) =>
            q
              .insertInto('certificate')
              .values({
                serial: cert.serial,
                der: cert.der,
                profile: cert.profile,
                subject: cert.subject,
                key_type: cert.keyDescription,
                user_id: owner.userId,
                device_id: owner.deviceId ?? null,
                issuer_serial: issuerSerial(),
                not_before: cert.notBefore,
                not_after: cert.notAfter,
              })
              .returning('serial'),
          )
          .insertInto('audit_event')
          .columns(['actor', 'action', 'serial', 'details'])
          .expression((eb) =>
            eb
              .selectFrom('issued')
              .select((s) => [
                s.val(audit.actor).as('actor'),
                s.val(audit.action).as('action'),
                'issued.serial',
                s.cast(s.val(JSON.stringify(audit.details)), 'jsonb').as('details'),
              ]),
          )
          .execute()
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) throw new SerialConflictError(cert.serial)
        throw error
      }
    },
  }
}
