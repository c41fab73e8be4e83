import type { Kysely } from 'kysely'
import { SerialConflictError, type AuditEvent, type CertificateOwner, type CertificateStore, type IssuedCertificate } from '../../ca/index.js'
import type { Database } from './database.js'

const UNIQUE_VIOLATION = '23505'

/** A duplicate serial becomes the core's SerialConflictError (the authority retries); anything else passes through. */
function storeError(error: unknown, serial: string): unknown {
  return (error as { code?: string }).code === UNIQUE_VIOLATION ? new SerialConflictError(serial) : error
}

interface Pending {
  cert: IssuedCertificate
  owner: CertificateOwner
  audit: AuditEvent
  resolve: () => void
  reject: (error: unknown) => void
}

/** Tuning of the group commit; the defaults suit a pool of 10 connections. */
export interface StoreOptions {
  /** Rows per statement at most. Default 250. */
  maxBatch?: number
  /** Batches being written at once at most. Default 3. */
  maxInFlight?: number
}

/**
 * The CA core's CertificateStore over kysely, with group commit.
 *
 * Each certificate row and its audit row are written by one statement (a
 * data-modifying CTE, which PostgreSQL runs atomically), so neither exists
 * without the other. Issuances that arrive while earlier writes are in
 * flight are written together by the next statement: under load one commit
 * (one WAL flush) carries many certificates, which is what lets issuance go
 * past a few hundred per second. Every caller's promise resolves only after
 * the commit that holds its row, so a certificate is stored before it is
 * returned. A failed batch is retried row by row, so one bad row (a serial
 * collision) fails only its own issuance.
 */
export function createCertificateStore(db: Kysely<Database>, issuerSerial: () => string, options: StoreOptions = {}): CertificateStore {
  const maxBatch = options.maxBatch ?? 250
  const maxInFlight = options.maxInFlight ?? 3
  const queue: Pending[] = []
  let inFlight = 0
  let scheduled = false

  async function write(batch: Pending[]): Promise<void> {
    await db
      .with('issued', (q) =>
        q
          .insertInto('certificate')
          .values(
            batch.map(({ cert, owner }) => ({
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
            })),
          )
          .returning('serial'),
      )
      .insertInto('audit_event')
      .values(batch.map(({ audit }) => ({ actor: audit.actor, action: audit.action, serial: audit.serial, details: JSON.stringify(audit.details) })))
      .execute()
  }

  async function flush(): Promise<void> {
    scheduled = false
    while (queue.length > 0 && inFlight < maxInFlight) {
      const batch = queue.splice(0, maxBatch)
      inFlight++
      void (async () => {
        try {
          await write(batch)
          for (const p of batch) p.resolve()
        } catch (error) {
          if (batch.length === 1) {
            batch[0]!.reject(storeError(error, batch[0]!.cert.serial))
          } else {
            // Isolate the failing row: write each alone, so the others still succeed.
            for (const p of batch) {
              try {
                await write([p])
                p.resolve()
              } catch (single) {
                p.reject(storeError(single, p.cert.serial))
              }
            }
          }
        } finally {
          inFlight--
          if (queue.length > 0) void flush()
        }
      })()
    }
  }

  return {
    saveIssued(cert, owner, audit) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ cert, owner, audit, resolve, reject })
        if (!scheduled && inFlight < maxInFlight) {
          scheduled = true
          // Let the issuances of this event-loop turn join the batch.
          setImmediate(() => void flush())
        }
      })
    },
  }
}
