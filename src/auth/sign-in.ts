import type { FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { Metrics } from '../metrics.js'
import { upsertUser } from '../db/user-repository.js'
import type { SignedInUser } from './saml-identity.js'
import type { SessionRecords } from './session-records.js'
import { signIn, type SessionUser } from './session.js'

/** Records a sign-in: the user (with the IdP's display name), a fresh session and an audit event. */
export async function completeSignIn(
  { db, records, metrics }: { db: Kysely<Database>; records: SessionRecords; metrics: Pick<Metrics, 'signedIn'> },
  request: FastifyRequest,
  user: SignedInUser,
  via: SessionUser['via'],
): Promise<SessionUser> {
  await upsertUser(db, user.email, user.name)
  const sessionUser = await signIn(request, records, user, via)
  await db
    .insertInto('audit_event')
    .values({ actor: `user:${user.email}`, action: 'auth.signed-in', serial: null, client_ip: request.ip, details: JSON.stringify({ via, admin: user.admin, groups: user.groups.slice(0, 20) }) })
    .execute()
  request.log.info({ user: user.email, admin: user.admin, via }, 'signed in')
  metrics.signedIn(via)
  return sessionUser
}

/** Records a refused sign-in (the reason, never the message itself). */
export async function recordRefusedSignIn({ db, metrics }: { db: Kysely<Database>; metrics: Pick<Metrics, 'signInRefused'> }, request: FastifyRequest, reason: string): Promise<void> {
  request.log.warn({ reason }, 'sign-in refused')
  metrics.signInRefused()
  await db.insertInto('audit_event').values({ actor: `ip:${request.ip}`, action: 'auth.sign-in-refused', serial: null, client_ip: request.ip, details: JSON.stringify({ reason }) }).execute()
}
