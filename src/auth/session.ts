import fastifyCsrf from '@fastify/csrf-protection'
import { Authenticator } from '@fastify/passport'
import fastifySecureSession from '@fastify/secure-session'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Config } from '../config.js'
import type { SignedInUser } from './saml-identity.js'
import type { SessionKeyring } from './session-key.js'
import type { SessionRecords } from './session-records.js'

/** What the session cookie carries about the employee (encrypted and authenticated). */
export interface SessionUser extends SignedInUser {
  /** Sign-in time, ms since the epoch. */
  iat: number
  /** How the user signed in. */
  via: 'saml' | 'development'
  /** The server-side session record (see session-records.ts); the session lasts while it is open. */
  sid: string
}

declare module 'fastify' {
  interface PassportUser extends SessionUser {}
}

declare module '@fastify/secure-session' {
  interface SessionData {
    /** A one-time notice for the next page (e.g. "session-expired"). */
    notice: string
  }
}

/** Name of the session cookie. */
export const SESSION_COOKIE = 'kagi_session'

/** What the session layer needs from the services. */
export interface SessionServices {
  keyring: SessionKeyring
  records: SessionRecords
}

/**
 * Registers the session cookie (HttpOnly, SameSite=Lax, Secure on https),
 * passport on top of it, CSRF tokens kept in the session, and the check of
 * the server-side record on every request (logout, timeouts, key rotation).
 * Returns the authenticator for strategies to be added.
 */
export async function registerSessions(app: FastifyInstance, config: Readonly<Config>, sessions: SessionServices): Promise<InstanceType<typeof Authenticator>> {
  await sessions.keyring.ready()
  await app.register(fastifySecureSession, {
    // The keyring's Buffer itself: a rotation replaces its bytes (see session-key.ts).
    key: sessions.keyring.key,
    cookieName: SESSION_COOKIE,
    expiry: Math.ceil(config.sessionMaxMs / 1000),
    cookie: { path: '/', httpOnly: true, sameSite: 'lax', secure: config.publicUrl.startsWith('https:') },
  })
  await app.register(fastifyCsrf, { sessionPlugin: '@fastify/secure-session' })
  // One authenticator per app: tests build many apps, and strategies must not leak between them.
  const authenticator = new Authenticator({ key: 'user', clearSessionOnLogin: true })
  authenticator.registerUserSerializer(async (user: SessionUser) => user)
  authenticator.registerUserDeserializer(async (stored: SessionUser) => stored)
  await app.register(authenticator.initialize())
  await app.register(authenticator.secureSession())
  app.addHook('preHandler', async (request) => {
    const user = request.user
    if (!user) return
    const ended = await sessions.records.check(user.sid)
    if (!ended) return
    await request.logOut()
    request.session.set('notice', 'session-expired')
  })
  return authenticator
}

/** Signs the user in: a fresh cookie and a new session record (no fixation); the browser's previous session ends. */
export async function signIn(request: FastifyRequest, records: SessionRecords, user: SignedInUser, via: SessionUser['via']): Promise<SessionUser> {
  if (request.user?.sid) await records.end(request.user.sid, 'signed-in-again')
  const sid = await records.open({ email: user.email, via, admin: user.admin, ip: request.ip, userAgent: request.headers['user-agent'] })
  const sessionUser: SessionUser = { ...user, iat: Date.now(), via, sid }
  await request.logIn(sessionUser)
  return sessionUser
}

/** Signs the browser out and ends its session record, so a copy of the cookie stops working too. */
export async function signOut(request: FastifyRequest, records: SessionRecords): Promise<void> {
  if (request.user?.sid) await records.end(request.user.sid, 'logout')
  await request.logOut()
  request.session.delete()
}
