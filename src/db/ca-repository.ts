import { sql, type Kysely, type Transaction } from 'kysely'
import type { Database } from './database.js'

type Executor = Kysely<Database> | Transaction<Database>

/** The active root and issuing CA rows, if any. */
export async function findActiveCas(db: Executor) {
  return db.selectFrom('ca_certificate').selectAll().where('active', '=', true).execute()
}

/** Issuing CAs that were replaced (kept for history and for OCSP to refuse to speak for them). */
export async function findRetiredIssuingCas(db: Executor) {
  return db.selectFrom('ca_certificate').select(['der']).where('active', '=', false).where('role', '=', 'issuing').execute()
}

/** Serializes CA creation across processes sharing one PostgreSQL (released at commit). */
export async function lockCaCreation(trx: Transaction<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(4804195)`.execute(trx)
}

/** A CA row to insert. */
export interface NewCaRow {
  role: 'root' | 'issuing'
  serial: string
  subject: string
  der: Buffer
  encryptedKey: string
  keyType: string
  notAfter: Date
  /** The base URL its certificates name (and kagi's services use). */
  publicUrl: string
}

/** Retires the active CA of `role` (kept for history) and inserts a new active one, audited in the same transaction. */
export async function replaceActiveCa(trx: Transaction<Database>, row: NewCaRow, actor: string): Promise<void> {
  await trx.updateTable('ca_certificate').set({ active: false }).where('role', '=', row.role).where('active', '=', true).execute()
  await trx
    .insertInto('ca_certificate')
    .values({
      role: row.role,
      serial: row.serial,
      subject: row.subject,
      der: row.der,
      encrypted_key: row.encryptedKey,
      key_type: row.keyType,
      not_after: row.notAfter,
      public_url: row.publicUrl,
    })
    .execute()
  await trx
    .insertInto('audit_event')
    .values({ actor, action: 'ca.activated', serial: row.serial, details: JSON.stringify({ role: row.role, subject: row.subject, keyType: row.keyType, notAfter: row.notAfter.toISOString() }) })
    .execute()
}

/** Stores the active CA's public URL (both rows: the root's CRL and AIA URLs are served at the same place), audited in the same transaction. */
export async function updatePublicUrl(trx: Transaction<Database>, from: string | null, to: string, actor: string): Promise<void> {
  await trx.updateTable('ca_certificate').set({ public_url: to }).where('active', '=', true).execute()
  await trx.insertInto('audit_event').values({ actor, action: 'ca.public-url-changed', serial: null, details: JSON.stringify({ from, to }) }).execute()
}

/** The DER of the certificate the issuing CA `issuerSerial` signed last, if any. */
export async function latestIssuedDer(db: Executor, issuerSerial: string): Promise<Buffer | undefined> {
  const row = await db.selectFrom('certificate').select('der').where('issuer_serial', '=', issuerSerial).orderBy('issued_at', 'desc').limit(1).executeTakeFirst()
  return row && Buffer.from(row.der)
}
