import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import type { Database } from './database.js'

export type TokenRole = 'admin' | 'mdm'

/** SHA-256 of a token: tokens are 256 random bits, so a fast hash is enough to make a stolen table useless. */
export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex')

/** A live token already has this name (names say who uses a token; two alike cannot be told apart or revoked one by one). */
export class TokenNameInUseError extends Error {
  constructor(readonly name: string) {
    super(`a live token is already named "${name}": choose another name, or replace it (kagi token create --replace revokes the old one)`)
  }
}

/**
 * Creates a token and returns it in clear, once. Format: `kagi_<43 base64url chars>`.
 * A live token of the same name is refused ({@link TokenNameInUseError}), or
 * with `replace` revoked in the same transaction (`replaced` counts them).
 */
export async function createToken(db: Kysely<Database>, role: TokenRole, name: string, options: { replace?: boolean } = {}): Promise<{ id: string; token: string; replaced: number }> {
  const token = `kagi_${randomBytes(32).toString('base64url')}`
  const id = randomUUID()
  const replaced = await db.transaction().execute(async (trx) => {
    const live = await trx.selectFrom('api_token').select('id').where('name', '=', name).where('revoked_at', 'is', null).forUpdate().execute()
    if (live.length > 0 && !options.replace) throw new TokenNameInUseError(name)
    if (live.length > 0) await trx.updateTable('api_token').set({ revoked_at: new Date() }).where('name', '=', name).where('revoked_at', 'is', null).execute()
    await trx.insertInto('api_token').values({ id, name, role, token_hash: hashToken(token) }).execute()
    return live.length
  })
  return { id, token, replaced }
}

/** The live token with this value, if any. */
export async function findToken(db: Kysely<Database>, token: string) {
  return db
    .selectFrom('api_token')
    .select(['id', 'name', 'role'])
    .where('token_hash', '=', hashToken(token))
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
}

export async function listTokens(db: Kysely<Database>) {
  return db.selectFrom('api_token').select(['id', 'name', 'role', 'created_at', 'revoked_at', 'last_used_at']).orderBy('created_at').execute()
}

/** Records that a token was used now (at most once a minute: the caller's cache already spaces the calls). */
export async function touchToken(db: Kysely<Database>, id: string): Promise<void> {
  await db
    .updateTable('api_token')
    .set({ last_used_at: sql`now()` })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`now() - interval '1 minute'`)]))
    .execute()
}

/** Revokes tokens by id or name; returns how many were revoked. */
export async function revokeToken(db: Kysely<Database>, idOrName: string): Promise<number> {
  const isUuid = /^[0-9a-f-]{36}$/i.test(idOrName)
  const result = await db
    .updateTable('api_token')
    .set({ revoked_at: new Date() })
    .where(isUuid ? 'id' : 'name', '=', idOrName)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}
