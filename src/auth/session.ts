import { createHash, hkdfSync, randomBytes } from 'node:crypto'
import fastifyCsrf from '@fastify/csrf-protection'
import { Authenticator } from '@fastify/passport'
import fastifySecureSession from '@fastify/secure-session'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Config } from '../config.js'
import type { SignedInUser } from './saml-identity.js'

/** What the session cookie carries about the employee (encrypted and authenticated). */
export interface SessionUser extends SignedInUser {
  /** Sign-in time, ms since the epoch: the absolute timeout counts from here. */
  iat: number
  /** How the user signed in. */
  via: 'saml' | 'development'
}

declare module 'fastify' {
  interface PassportUser extends SessionUser {}
}

declare module '@fastify/secure-session' {
  interface SessionData {
    /** Last activity, ms since the epoch (idle timeout). */
    seen: number
    /** A one-time notice for the next page (e.g. "session-expired"). */
    notice: string
  }
}

/** Name of the session cookie. */
export const SESSION_COOKIE = 'kagi_session'
/** The session's last activity is written at most this often (each write re-encrypts the cookie). */
const SEEN_GRANULARITY_MS = 60_000

/**
 * The 32-byte key of the session cookie (XSalsa20-Poly1305 via
 * @fastify/secure-session): from KAGI_SESSION_SECRET, else derived from the
 * CA passphrase with HKDF (RFC 5869) so every replica agrees without another
 * secret to manage, else random (sessions end at restart).
 */
export function sessionKey(config: Pick<Config, 'sessionSecret'>, passphrase?: string): Buffer {
  if (config.sessionSecret) return createHash('sha256').update(config.sessionSecret).digest()
  if (passphrase) return Buffer.from(hkdfSync('sha256', passphrase, 'kagi', 'session-cookie-v1', 32))
  return randomBytes(32)
}

/**
 * Registers the session cookie (HttpOnly, SameSite=Lax, Secure on https),
 * passport on top of it, CSRF tokens kept in the session, and the idle and
 * absolute timeouts. Returns the authenticator for strategies to be added.
 */
export async function registerSessions(app: FastifyInstance, config: Readonly<Config>, key: Buffer): Promise<InstanceType<typeof Authenticator>> {
  await app.register(fastifySecureSession, {
    key,
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
    const now = Date.now()
    const seen = (request.session.get('seen') as number | undefined) ?? user.iat
    if (now - user.iat > config.sessionMaxMs || now - seen > config.sessionIdleMs) {
      await request.logOut()
      request.session.set('notice', 'session-expired')
      return
    }
    if (now - seen > SEEN_GRANULARITY_MS) request.session.set('seen', now)
  })
  return authenticator
}

/** Signs the user in: a fresh session (no fixation), activity counted from now. */
export async function signIn(request: FastifyRequest, user: SignedInUser, via: SessionUser['via']): Promise<SessionUser> {
  const sessionUser: SessionUser = { ...user, iat: Date.now(), via }
  await request.logIn(sessionUser)
  request.session.set('seen', sessionUser.iat)
  return sessionUser
}
