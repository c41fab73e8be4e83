import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { decryptSecret, encryptSecret } from '../../ca/index.js'
import type { Database } from '../db/database.js'
import { insertSessionKey, newestSessionKey } from '../db/session-repository.js'
import type { Log } from '../revocation/crl-publisher.js'

const KEY_BYTES = 32

/** Where the session cookie key came from. */
export type SessionKeySource = 'KAGI_SESSION_SECRET' | 'database' | 'ephemeral'

/**
 * The key of the session cookie (XSalsa20-Poly1305 through
 * @fastify/secure-session). It is never derived from the CA passphrase: a
 * cookie would then be an offline oracle for the passphrase, which is
 * stretched for the CA keys but not here. Instead:
 * - KAGI_SESSION_SECRET when set (SHA-256 of it, so any length ≥ 32 works);
 * - else a random key made at first start and stored in `session_key`,
 *   encrypted with the CA passphrase as strongly as the CA keys, so every
 *   replica uses the same one; `kagi session rotate-key` adds a newer one;
 * - else (no passphrase: only tests and tools) a random key for this process.
 *
 * @fastify/secure-session keeps the Buffer it is given, so {@link key} is one
 * Buffer whose bytes are replaced when another process rotates the key.
 */
export class SessionKeyring {
  readonly key = randomBytes(KEY_BYTES)
  private loaded?: Promise<void>
  private currentId?: number
  source: SessionKeySource = 'ephemeral'

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: { secret?: string; passphrase?: string; log: Log },
  ) {}

  /** Loads the key (creating it on first start); the same promise for every caller. */
  ready(): Promise<void> {
    this.loaded ??= this.load()
    return this.loaded
  }

  private async load(): Promise<void> {
    if (this.options.secret) {
      this.key.set(createHash('sha256').update(this.options.secret).digest())
      this.source = 'KAGI_SESSION_SECRET'
      return
    }
    if (!this.options.passphrase) return
    const row = await newestSessionKey(this.db)
    this.source = 'database'
    if (row) return this.use(row)
    // Replicas starting together: the first insert of key 1 wins, the others read it.
    const fresh = randomBytes(KEY_BYTES)
    const won = await insertSessionKey(this.db, 1, await encryptSecret(fresh, this.options.passphrase))
    if (won) {
      this.key.set(fresh)
      this.currentId = 1
      this.options.log.info({ keyId: 1 }, 'session cookie key created')
    } else await this.use((await newestSessionKey(this.db))!)
    fresh.fill(0)
  }

  /**
   * Picks up a key rotated by another process (`kagi session rotate-key`).
   * Returns true when the key changed. Every session already ended with the
   * rotation, so cookies under the old key would be refused anyway.
   */
  async refresh(): Promise<boolean> {
    await this.ready()
    if (this.source !== 'database') return false
    const row = await newestSessionKey(this.db)
    if (!row || row.id === this.currentId) return false
    await this.use(row)
    this.options.log.info({ keyId: row.id }, 'session cookie key rotated by another process: now using the new key')
    return true
  }

  private async use(row: { id: number; encrypted_key: string }): Promise<void> {
    const plain = await decryptSecret(row.encrypted_key, this.options.passphrase!)
    this.key.set(plain)
    plain.fill(0)
    this.currentId = row.id
  }
}

/**
 * Adds a new random session key after the newest one. Returns its number.
 * The caller ends every session in the same breath (see use-cases/sessions.ts).
 */
export async function addSessionKey(db: Kysely<Database>, passphrase: string): Promise<number> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const id = ((await newestSessionKey(db))?.id ?? 0) + 1
    const fresh = randomBytes(KEY_BYTES)
    const encrypted = await encryptSecret(fresh, passphrase)
    fresh.fill(0)
    if (await insertSessionKey(db, id, encrypted)) return id
  }
  throw new Error('another process is rotating the session key at the same time; try again')
}
