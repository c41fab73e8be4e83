import type { KagiServices } from '../startup/services.js'
import { addSessionKey } from '../auth/session-key.js'

/** What a rotation did. */
export interface KeyRotation {
  /** The new key's number, or undefined when the key comes from KAGI_SESSION_SECRET (change it there). */
  keyId?: number
  /** Sessions that were open and are now ended. */
  ended: number
}

/**
 * `kagi session rotate-key`: a new random cookie key, and every session
 * ended, so that a stolen key or cookie is worth nothing. Running servers
 * read the new key within a few seconds (SessionKeyring.refresh).
 */
export async function rotateSessionKey(services: Pick<KagiServices, 'db' | 'config' | 'sessions'>, passphrase: string, actor: string): Promise<KeyRotation> {
  const keyId = services.config.sessionSecret ? undefined : await addSessionKey(services.db, passphrase)
  const ended = await services.sessions.records.endMany({}, 'key-rotated')
  await services.db
    .insertInto('audit_event')
    .values({ actor, action: 'session.key-rotated', serial: null, details: JSON.stringify({ keyId: keyId ?? null, ended, source: keyId ? 'database' : 'KAGI_SESSION_SECRET' }) })
    .execute()
  return { keyId, ended }
}

/** Ends every session of one user (an employee who leaves, a stolen laptop); returns how many were open. */
export async function endSessionsOfUser(services: Pick<KagiServices, 'db' | 'sessions'>, email: string, actor: string): Promise<number> {
  const ended = await services.sessions.records.endMany({ email }, 'ended-by-admin')
  await services.db
    .insertInto('audit_event')
    .values({ actor, action: 'session.ended', serial: null, details: JSON.stringify({ email: email.toLowerCase(), ended }) })
    .execute()
  return ended
}
