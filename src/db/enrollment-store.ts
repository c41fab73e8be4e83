import { sql, type Kysely, type Transaction } from 'kysely'
import { SerialConflictError, type IssuedCertificate } from '../../ca/index.js'
import { isTransientConflict } from './transient.js'
import type { Database, Platform } from './database.js'
import { REVOCATION_CHANNEL } from './revocation-repository.js'

type Executor = Kysely<Database> | Transaction<Database>

/** A device row to create with the certificate (its id is already in the certificate's URI SAN). */
export interface NewDevice {
  id: string
  name: string
  platform: Platform
  hostname: string | null
  serialNumber: string | null
  matchKey: string
}

/** An audit row: the core's events, and kagi's own (a host name reassigned). */
export interface AuditRow {
  actor: string
  action: string
  serial: string | null
  details: Record<string, unknown>
}

/** Everything one enrollment writes; nothing of it exists unless all of it does. */
export interface EnrollmentRecord {
  /** The owner: `userId` when the user is known to exist, else created from the email (and `newUserId`). */
  user: { email: string; userId?: string; newUserId: string }
  device?: { id: string; create?: NewDevice; update?: { name?: string; platform?: Platform; hostname?: string } }
  certificate: IssuedCertificate
  /** Revoke the device's other active certificates of this profile as superseded (RFC 5280 §5.3.1). */
  supersedeProfileOfDevice: boolean
  /** Certificates of other owners revoked as superseded too (an admin reassigning a host name). */
  alsoSupersede: readonly string[]
  /** The issuance event first, then any others (reassignment). */
  audit: readonly AuditRow[]
  /** The requesting client's address, recorded with every audit event of the record (none from the CLI). */
  clientIp?: string
  /**
   * A SCEP enrollment (src/use-cases/scep-operation.ts): the one-time challenge it spends (none for
   * a renewal), and its transactionID and requester key, so GetCertInitial
   * finds the certificate again (RFC 8894 §3.3.3).
   */
  scep?: { challengeId?: string; transactionId: string; keyHash: Buffer }
}

/** What was stored: the owner's id and the serials revoked as superseded. */
export interface StoredEnrollment {
  userId: string
  superseded: string[]
}

/**
 * A concurrent enrollment created the same device first (with another id than
 * the one in this certificate): the use case starts again and finds it.
 */
export class DeviceConflictError extends Error {}

/** Two enrollments of one device kept replacing each other's certificate. */
export class ActiveConflictError extends Error {}

/** The SCEP challenge was spent (or expired) by the time the certificate was stored: nothing of this record is written. */
export class ChallengeSpentError extends Error {}

/** Stores enrollments; each `save` resolves once its record is committed. */
export interface EnrollmentStore {
  save(record: EnrollmentRecord): Promise<StoredEnrollment>
}

/** Tuning of the group commit; the defaults suit a pool of 10 connections. */
export interface StoreOptions {
  /** Records per transaction at most. Default 250. */
  maxBatch?: number
  /**
   * Transactions being written at once at most. Default 1: the records that
   * arrive meanwhile wait for the next, larger one. Each statement costs both
   * processes more than its rows do (kysely and pg, a loopback write that wakes
   * PostgreSQL, its parse and commit), so on the 2-core build machine one at a
   * time issued ~13 % more than three, at a lower p50 (README, "Issuance").
   */
  maxInFlight?: number
}

const UNIQUE_VIOLATION = '23505'
const ONE_ACTIVE_INDEX = 'certificate_one_active'
/** A transaction that lost the race for a device's one active certificate is run again this often. */
const ACTIVE_RETRIES = 3

interface Pending {
  record: EnrollmentRecord
  resolve: (stored: StoredEnrollment) => void
  reject: (error: unknown) => void
}

const isUniqueViolation = (error: unknown, constraint?: string): boolean => {
  const e = error as { code?: string; constraint?: string }
  return e?.code === UNIQUE_VIOLATION && (constraint === undefined || e.constraint === constraint)
}

/**
 * The one writer of enrollments, with group commit.
 *
 * A record's user, device, certificate, superseded revocations and audit
 * events are written in one transaction, so a refused or failed enrollment
 * leaves nothing behind. Enrollments that arrive while earlier writes are in
 * flight share the next transaction (multi-row statements, one commit, one
 * WAL flush): that is what lets issuance from CSRs go past a few hundred per
 * second. Every caller's promise resolves only after the commit that holds
 * its record. A failed shared transaction is retried record by record, so one
 * bad record (a serial collision, a lost race) fails only its own enrollment.
 *
 * The database enforces at most one active certificate per (device,
 * profile) (migration 0010); a transaction that loses that race to a
 * concurrent one is run again, and then supersedes the winner.
 */
export function createEnrollmentStore(db: Kysely<Database>, issuerSerial: () => string, options: StoreOptions = {}): EnrollmentStore {
  const maxBatch = options.maxBatch ?? 250
  const maxInFlight = options.maxInFlight ?? 1
  const queue: Pending[] = []
  let inFlight = 0
  let scheduled = false

  /** Writes the records; returns, per record, its result or the error that excludes it (a device conflict). */
  async function writeBatch(executor: Executor, records: readonly EnrollmentRecord[]): Promise<(StoredEnrollment | Error)[]> {
    const outcome: (StoredEnrollment | Error | undefined)[] = records.map(() => undefined)
    // First, so that a record whose challenge is gone writes nothing at all (no user, no device).
    for (const [i, r] of records.entries()) {
      if (r.scep?.challengeId && !(await spendChallenge(executor, r.scep.challengeId, r.certificate.serial))) {
        outcome[i] = new ChallengeSpentError('the SCEP challenge was used or expired meanwhile')
      }
    }
    const candidates = records.filter((_, i) => outcome[i] === undefined)
    const userIds = await ensureUsers(executor, candidates)
    const devicesCreated = await createDevices(executor, candidates, userIds)
    records.forEach((r, i) => {
      if (outcome[i] === undefined && r.device?.create && !devicesCreated.has(r.device.id)) outcome[i] = new DeviceConflictError(`device ${r.device.create.matchKey} was created concurrently`)
    })
    const live = records.map((r, i) => ({ r, i })).filter(({ i }) => outcome[i] === undefined)
    for (const { r } of live) if (r.device?.update) await updateDevice(executor, r.device.id, r.device.update)
    const superseded = await supersede(
      executor,
      live.map(({ r }) => r),
    )
    const rows = live.map(({ r }) => r)
    if (rows.length > 0) {
      const audits = rows.flatMap((r, k) =>
        [
          ...r.audit,
          ...superseded[k]!.map((serial): AuditRow => ({ actor: r.audit[0]!.actor, action: 'certificate.revoked', serial, details: { reason: 'superseded', by: r.certificate.serial } })),
        ].map((a) => ({ ...a, clientIp: r.clientIp ?? null })),
      )
      await executor
        .with('issued', (q) =>
          q
            .insertInto('certificate')
            .values(
              rows.map((r) => ({
                serial: r.certificate.serial,
                der: r.certificate.der,
                profile: r.certificate.profile,
                subject: r.certificate.subject,
                key_type: r.certificate.keyDescription,
                user_id: userIds.get(r.user.email)!,
                device_id: r.device?.id ?? null,
                issuer_serial: issuerSerial(),
                not_before: r.certificate.notBefore,
                not_after: r.certificate.notAfter,
              })),
            )
            .returning('serial'),
        )
        .insertInto('audit_event')
        .values(audits.map((a) => ({ actor: a.actor, action: a.action, serial: a.serial ?? null, client_ip: a.clientIp, details: JSON.stringify(a.details) })))
        .execute()
      const scep = rows.filter((r) => r.scep)
      if (scep.length > 0) {
        await executor
          .insertInto('scep_transaction')
          .values(scep.map((r) => ({ transaction_id: r.scep!.transactionId, key_hash: r.scep!.keyHash, serial: r.certificate.serial })))
          .onConflict((c) => c.doNothing())
          .execute()
      }
      const revoked = superseded.flat()
      // Delivered to every listening replica at commit, so their OCSP caches drop the old answers.
      if (revoked.length > 0) await sql`select pg_notify(${REVOCATION_CHANNEL}, s) from unnest(${revoked}::text[]) as s`.execute(executor)
    }
    live.forEach(({ r, i }, k) => (outcome[i] = { userId: userIds.get(r.user.email)!, superseded: superseded[k]! }))
    return outcome as (StoredEnrollment | Error)[]
  }

  /** One statement without a transaction when a record needs no more (a known user, no device): the common CSR case. */
  const needsTransaction = (records: readonly EnrollmentRecord[]): boolean =>
    records.some((r) => !r.user.userId || r.device !== undefined || r.alsoSupersede.length > 0 || r.audit.length > 1 || r.scep !== undefined)

  async function write(records: readonly EnrollmentRecord[]): Promise<(StoredEnrollment | Error)[]> {
    if (!needsTransaction(records)) return writeBatch(db, records)
    return db.transaction().execute((trx) => writeBatch(trx, records))
  }

  /** One record alone, in its own transaction; a lost race for the one active certificate is run again. */
  async function writeOne(record: EnrollmentRecord): Promise<StoredEnrollment> {
    for (let attempt = 1; ; attempt++) {
      try {
        const [result] = await write([record])
        if (result instanceof Error) throw result
        return result!
      } catch (error) {
        // A lost race for the one active certificate, or a deadlock PostgreSQL broke (see transient.ts): run it again.
        if (isUniqueViolation(error, ONE_ACTIVE_INDEX) || isTransientConflict(error)) {
          if (attempt < ACTIVE_RETRIES) continue
          throw new ActiveConflictError(`enrollments of device ${record.device?.id} kept colliding`)
        }
        if (isUniqueViolation(error, 'certificate_pkey')) throw new SerialConflictError(record.certificate.serial)
        throw error
      }
    }
  }

  function settle(batch: Pending[], results: (StoredEnrollment | Error)[]): void {
    batch.forEach((p, i) => {
      const result = results[i]!
      if (result instanceof Error) p.reject(result)
      else p.resolve(result)
    })
  }

  async function flush(): Promise<void> {
    scheduled = false
    while (queue.length > 0 && inFlight < maxInFlight) {
      const batch = queue.splice(0, maxBatch)
      inFlight++
      void (async () => {
        try {
          if (batch.length === 1) {
            batch[0]!.resolve(await writeOne(batch[0]!.record))
          } else {
            settle(batch, await write(batch.map((p) => p.record)))
          }
        } catch (error) {
          if (batch.length === 1) batch[0]!.reject(error)
          else {
            // Isolate the failing record: write each alone, so the others still succeed.
            for (const p of batch) {
              try {
                p.resolve(await writeOne(p.record))
              } catch (single) {
                p.reject(single)
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
    save(record) {
      return new Promise<StoredEnrollment>((resolve, reject) => {
        queue.push({ record, resolve, reject })
        if (!scheduled && inFlight < maxInFlight) {
          scheduled = true
          // Let the enrollments of this event-loop turn join the transaction.
          setImmediate(() => void flush())
        }
      })
    },
  }
}

/** Marks the challenge used by the certificate `serial`; false when it was already used or has expired. */
async function spendChallenge(executor: Executor, id: string, serial: string): Promise<boolean> {
  const spent = await executor
    .updateTable('scep_challenge')
    .set({ used_at: sql<Date>`now()`, serial })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .returning('id')
    .executeTakeFirst()
  return spent !== undefined
}

/** Email → user id for every record, creating the users that do not exist yet (one statement). */
async function ensureUsers(executor: Executor, records: readonly EnrollmentRecord[]): Promise<Map<string, string>> {
  const ids = new Map<string, string>()
  const missing = new Map<string, string>()
  for (const { user } of records) {
    if (user.userId) ids.set(user.email, user.userId)
    else if (!missing.has(user.email)) missing.set(user.email, user.newUserId)
  }
  for (const email of ids.keys()) missing.delete(email)
  if (missing.size > 0) {
    // A no-op update makes RETURNING give the id of a user created concurrently, too.
    const rows = await executor
      .insertInto('app_user')
      .values([...missing].map(([email, id]) => ({ id, email, display_name: null })))
      .onConflict((oc) => oc.column('email').doUpdateSet((eb) => ({ email: eb.ref('excluded.email') })))
      .returning(['id', 'email'])
      .execute()
    for (const row of rows) ids.set(row.email, row.id)
  }
  return ids
}

/** Creates the new devices (one statement); returns the ids created. A device created concurrently is missing. */
async function createDevices(executor: Executor, records: readonly EnrollmentRecord[], userIds: Map<string, string>): Promise<Set<string>> {
  const creates = records.filter((r) => r.device?.create)
  if (creates.length === 0) return new Set()
  const rows = await executor
    .insertInto('device')
    .values(
      creates.map((r) => {
        const d = r.device!.create!
        return { id: d.id, user_id: userIds.get(r.user.email)!, name: d.name, platform: d.platform, hostname: d.hostname, serial_number: d.serialNumber, match_key: d.matchKey }
      }),
    )
    .onConflict((oc) => oc.columns(['user_id', 'match_key']).doNothing())
    .returning('id')
    .execute()
  return new Set(rows.map((r) => r.id))
}

async function updateDevice(executor: Executor, id: string, update: { name?: string; platform?: Platform; hostname?: string }): Promise<void> {
  await executor.updateTable('device').set(update).where('id', '=', id).execute()
}

/**
 * Revokes, as superseded, each record's device's active certificates of the
 * record's profile, and its `alsoSupersede` serials; returns the serials per
 * record. Decided inside the transaction, so a certificate issued a moment ago
 * by another enrollment is superseded too (or the unique index catches it).
 */
async function supersede(executor: Executor, records: readonly EnrollmentRecord[]): Promise<string[][]> {
  const byDevice = records.filter((r) => r.supersedeProfileOfDevice && r.device)
  const explicit = records.flatMap((r) => r.alsoSupersede)
  if (byDevice.length === 0 && explicit.length === 0) return records.map(() => [])
  const rows = await executor
    .updateTable('certificate')
    .set({ status: 'revoked', revoked_at: sql`now()`, revocation_reason: 'superseded' })
    .where('status', '=', 'active')
    .where((eb) =>
      eb.or([
        ...byDevice.map((r) => eb.and([eb('device_id', '=', r.device!.id), eb('profile', '=', r.certificate.profile)])),
        ...(explicit.length > 0 ? [eb('serial', 'in', explicit)] : []),
      ]),
    )
    .returning(['serial', 'device_id', 'profile'])
    .execute()
  return records.map((r) =>
    rows
      .filter((row) => (r.supersedeProfileOfDevice && r.device && row.device_id === r.device.id && row.profile === r.certificate.profile) || r.alsoSupersede.includes(row.serial))
      .map((row) => row.serial),
  )
}
