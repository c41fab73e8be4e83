import { createHash } from 'node:crypto'
import { sql, type Kysely, type Transaction } from 'kysely'
import type { Database, ScepChallengeTable } from './database.js'

type Executor = Kysely<Database> | Transaction<Database>

/** SHA-256 of a challenge: challenges are 128-bit random, so a fast hash hides them as well as a slow one. */
export const hashChallenge = (challenge: string): Buffer => createHash('sha256').update(challenge, 'utf8').digest()

/** A challenge to store (only its hash) with its audit event, in one transaction. */
export interface NewScepChallenge {
  id: string
  challenge: string
  kind: ScepChallengeTable['kind']
  email: string | null
  device: Record<string, unknown> | null
  profile: 'user' | 'device' | null
  tokenId: string | null
  createdBy: string
  expiresAt: Date
  clientIp: string | null
}

/** Unused challenges are deleted this long after they expired (each NDES page view makes one). */
const PRUNE_AFTER = sql`interval '1 day'`

/** Stores a challenge and its audit event; prunes unused challenges that expired a day ago (the index on expires_at serves it). */
export async function insertScepChallenge(db: Kysely<Database>, row: NewScepChallenge): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('scep_challenge').where('used_at', 'is', null).where('expires_at', '<', sql<Date>`now() - ${PRUNE_AFTER}`).execute()
    await trx
      .insertInto('scep_challenge')
      .values({
        id: row.id,
        challenge_hash: hashChallenge(row.challenge),
        kind: row.kind,
        email: row.email,
        device: row.device === null ? null : JSON.stringify(row.device),
        profile: row.profile,
        token_id: row.tokenId,
        created_by: row.createdBy,
        expires_at: row.expiresAt,
      })
      .execute()
    await trx
      .insertInto('audit_event')
      .values({
        actor: row.createdBy,
        action: 'scep.challenge-created',
        serial: null,
        client_ip: row.clientIp,
        // Never the challenge: only whom it enrolls and until when.
        details: JSON.stringify({ id: row.id, kind: row.kind, email: row.email, device: row.device, profile: row.profile, expiresAt: row.expiresAt.toISOString() }),
      })
      .execute()
  })
}

/** The challenge with this text, spent or not (the caller tells unknown, used and expired apart). */
export async function findScepChallenge(db: Executor, challenge: string) {
  const row = await db.selectFrom('scep_challenge').selectAll().where('challenge_hash', '=', hashChallenge(challenge)).executeTakeFirst()
  if (!row) return undefined
  return { ...row, device: typeof row.device === 'string' ? (JSON.parse(row.device) as Record<string, unknown>) : row.device }
}
export type ScepChallengeRow = NonNullable<Awaited<ReturnType<typeof findScepChallenge>>>

/** The certificate issued for this transactionID and requester key, if any (RFC 8894 §3.3.3). */
export async function findScepTransaction(db: Executor, transactionId: string, keyHash: Buffer): Promise<{ serial: string; der: Buffer } | undefined> {
  return db
    .selectFrom('scep_transaction')
    .innerJoin('certificate', 'certificate.serial', 'scep_transaction.serial')
    .select(['certificate.serial', 'certificate.der'])
    .where('scep_transaction.transaction_id', '=', transactionId)
    .where('scep_transaction.key_hash', '=', keyHash)
    .executeTakeFirst()
}
