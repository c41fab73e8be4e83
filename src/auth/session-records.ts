import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Database, SessionEndReason } from '../db/database.js'
import { endSessionRecords, findSessionRecord, insertSessionRecord, touchSessionRecord, type NewSessionRecord } from '../db/session-repository.js'

/** A replica trusts what it read about a session for this long: another replica's logout takes effect within it. */
export const SESSION_CHECK_CACHE_MS = 5_000
/** Last activity is written at most this often. */
const TOUCH_EVERY_MS = 60_000
/** Sessions remembered per process; beyond this the oldest entry is dropped (it is read again when needed). */
const CACHE_ENTRIES = 20_000

interface Known {
  createdAt: number
  lastSeen: number
  ended?: SessionEndReason
  readAt: number
}

/**
 * The server-side record of every sign-in (`web_session`): the cookie names
 * a record, and a request counts as signed in only while that record is
 * open. Logging out, the idle and absolute timeouts, rotating the cookie key
 * and ending a user's sessions all close records, so a copied cookie stops
 * working everywhere, not only in the browser that logged out.
 */
export class SessionRecords {
  private readonly known = new Map<string, Known>()

  constructor(
    private readonly db: Kysely<Database>,
    private readonly limits: { idleMs: number; maxMs: number },
  ) {}

  /** Opens a record for a new sign-in; returns its id (128 random bits, never shown). */
  async open(record: Omit<NewSessionRecord, 'id'>): Promise<string> {
    const id = randomBytes(16).toString('base64url')
    const now = Date.now()
    await insertSessionRecord(this.db, { ...record, id }, new Date(now))
    this.remember(id, { createdAt: now, lastSeen: now, readAt: now })
    return id
  }

  /**
   * Undefined while the session may go on (its last activity is recorded now
   * and then), otherwise why it ended; a session past a timeout is closed here.
   */
  async check(id: string | undefined): Promise<SessionEndReason | undefined> {
    if (!id) return 'expired'
    const now = Date.now()
    let entry = this.known.get(id)
    if (!entry || now - entry.readAt > SESSION_CHECK_CACHE_MS) {
      const row = await findSessionRecord(this.db, id)
      if (!row) return 'expired'
      entry = {
        createdAt: new Date(row.created_at).getTime(),
        lastSeen: new Date(row.last_seen_at).getTime(),
        ended: row.ended_at ? (row.end_reason ?? 'logout') : undefined,
        readAt: now,
      }
      this.remember(id, entry)
    }
    if (entry.ended) return entry.ended
    const timedOut: SessionEndReason | undefined = now - entry.createdAt > this.limits.maxMs ? 'expired' : now - entry.lastSeen > this.limits.idleMs ? 'idle' : undefined
    if (timedOut) {
      await this.end(id, timedOut)
      return timedOut
    }
    if (now - entry.lastSeen > TOUCH_EVERY_MS) {
      entry.lastSeen = now
      await touchSessionRecord(this.db, id, new Date(now))
    }
    return undefined
  }

  /** Ends one session (logout, timeout). */
  async end(id: string, reason: SessionEndReason): Promise<void> {
    await endSessionRecords(this.db, { id }, reason)
    this.remember(id, { createdAt: 0, lastSeen: 0, ended: reason, readAt: Date.now() })
  }

  /** Ends every open session of one user, or of everyone; returns how many were open. */
  async endMany(which: { email?: string }, reason: SessionEndReason): Promise<number> {
    const count = await endSessionRecords(this.db, which, reason)
    this.known.clear()
    return count
  }

  private remember(id: string, entry: Known): void {
    this.known.delete(id)
    if (this.known.size >= CACHE_ENTRIES) this.known.delete(this.known.keys().next().value!)
    this.known.set(id, entry)
  }
}
