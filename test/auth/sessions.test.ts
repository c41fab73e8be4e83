import { createHash, hkdfSync } from 'node:crypto'
import t from 'tap'
import { decryptSecret } from '../../ca/index.js'
import { buildApp } from '../../src/app.js'
import { createServices } from '../../src/startup/services.js'
import { endSessionsOfUser, rotateSessionKey } from '../../src/use-cases/sessions.js'
import { build } from '../helper.js'
import { PageClient } from '../support/session.js'
import { cliInstallation } from '../use-cases/support.js'

// Sessions end on the server: logout, key rotation and ending a user's sessions stop a copied
// cookie too, and the cookie key has nothing to do with the CA passphrase.

const onLoopback = { KAGI_PUBLIC_URL: 'http://127.0.0.1:3000' }
/** The page greets the user ("Signed in as <strong>…</strong>"); the sign-in form's placeholder is not a greeting. */
const signedIn = (body: string, email: string) => new RegExp(`Signed in as <strong>[^<]*${email.replace(/\./g, '\\.')}`).test(body)

t.test('logout ends the session for a copied cookie too', async (t) => {
  const { app, services } = await build(t, { env: onLoopback })
  const page = new PageClient(app)
  await page.devSignIn('alice@example.com')
  await page.get('/')
  const stolen = page.copy()
  t.ok(signedIn((await stolen.get('/')).body, 'alice@example.com'), 'the copy works while the session is open')
  t.equal((await page.post('/auth/logout', {})).statusCode, 303)
  const after = await stolen.get('/')
  t.notOk(signedIn(after.body, 'alice@example.com'), 'the copied cookie no longer signs in')
  t.match(after.body, /Your session ended/)
  const record = await services.db.selectFrom('web_session').selectAll().executeTakeFirstOrThrow()
  t.equal(record.email, 'alice@example.com')
  t.equal(record.end_reason, 'logout')
  t.ok(record.ended_at, 'the record says when')
})

t.test('the cookie key is random, stored encrypted, shared by replicas, and not derived from the passphrase', async (t) => {
  const { app, services, database } = await build(t, { env: onLoopback })
  const { keyring } = services.sessions
  t.equal(keyring.source, 'database')
  const row = await services.db.selectFrom('session_key').selectAll().executeTakeFirstOrThrow()
  t.notMatch(row.encrypted_key, keyring.key.toString('base64url'), 'not stored in the clear')
  t.same(await decryptSecret(row.encrypted_key, services.config.caPassphrase!), keyring.key, 'the stored key, under the CA passphrase')
  const oldDerivation = Buffer.from(hkdfSync('sha256', services.config.caPassphrase!, 'kagi', 'session-cookie-v1', 32))
  t.notSame(keyring.key, oldDerivation, 'not the HKDF of the passphrase that made every cookie a passphrase oracle')

  const page = new PageClient(app)
  await page.devSignIn('alice@example.com')
  // A second replica on the same database reads the same key and accepts the cookie.
  const replica = createServices(services.config, database.db, services.ca, { passphrase: services.config.caPassphrase })
  await replica.start()
  t.teardown(() => replica.stop())
  const replicaApp = await buildApp(replica)
  t.teardown(() => replicaApp.close())
  t.ok(signedIn((await replicaApp.inject({ method: 'GET', url: '/', headers: { cookie: page.cookieHeader() } })).body, 'alice@example.com'), 'a replica accepts the cookie')
  // Another installation with the same passphrase has its own key: the cookie means nothing there.
  const other = await build(t, { env: onLoopback })
  t.equal(other.services.config.caPassphrase, services.config.caPassphrase)
  t.notSame(other.services.sessions.keyring.key, keyring.key)
  t.notOk(signedIn((await other.app.inject({ method: 'GET', url: '/', headers: { cookie: page.cookieHeader() } })).body, 'alice@example.com'))
})

t.test('rotating the key ends every session; a running replica picks the new key up', async (t) => {
  const { app, services } = await build(t, { env: onLoopback })
  const alice = new PageClient(app)
  const bob = new PageClient(app)
  await alice.devSignIn('alice@example.com')
  await bob.devSignIn('bob@example.com')
  const before = Buffer.from(services.sessions.keyring.key)
  const rotation = await rotateSessionKey(services, services.config.caPassphrase!, 'cli')
  t.same(rotation, { keyId: 2, ended: 2 })
  t.notOk(signedIn((await alice.get('/')).body, 'alice@example.com'), 'alice is signed out')
  t.notOk(signedIn((await bob.get('/')).body, 'bob@example.com'), 'bob is signed out')
  t.equal(await services.sessions.keyring.refresh(), true, 'the running process notices the new key')
  t.notSame(services.sessions.keyring.key, before, 'and uses it')
  await alice.devSignIn('alice@example.com')
  t.ok(signedIn((await alice.get('/')).body, 'alice@example.com'), 'signing in again works under the new key')
  t.equal(await services.sessions.keyring.refresh(), false, 'nothing new: no change')
  const audit = await services.db.selectFrom('audit_event').select(['actor', 'details']).where('action', '=', 'session.key-rotated').executeTakeFirstOrThrow()
  t.equal(audit.actor, 'cli')
})

t.test('ending one user\'s sessions leaves the others signed in', async (t) => {
  const { app, services } = await build(t, { env: onLoopback })
  const alice = new PageClient(app)
  const aliceLaptop = new PageClient(app)
  const bob = new PageClient(app)
  await alice.devSignIn('alice@example.com')
  await aliceLaptop.devSignIn('alice@example.com')
  await bob.devSignIn('bob@example.com')
  t.equal(await endSessionsOfUser(services, 'Alice@Example.com', 'cli'), 2)
  t.notOk(signedIn((await alice.get('/')).body, 'alice@example.com'))
  t.notOk(signedIn((await aliceLaptop.get('/')).body, 'alice@example.com'))
  t.ok(signedIn((await bob.get('/')).body, 'bob@example.com'))
})

t.test('KAGI_SESSION_SECRET, when set, is the key (nothing stored)', async (t) => {
  const secret = 'a-long-random-session-secret-0123456789abcdef'
  const { services } = await build(t, { env: { ...onLoopback, KAGI_SESSION_SECRET: secret } })
  t.equal(services.sessions.keyring.source, 'KAGI_SESSION_SECRET')
  t.same(services.sessions.keyring.key, createHash('sha256').update(secret).digest())
  t.equal((await services.db.selectFrom('session_key').selectAll().execute()).length, 0)
  t.same(await rotateSessionKey(services, services.config.caPassphrase!, 'cli'), { keyId: undefined, ended: 0 }, 'rotation ends sessions; the secret is changed where it is set')
})

t.test('kagi session rotate-key and kagi session end', async (t) => {
  const cli = await cliInstallation(t)
  const rotated = cli.kagi('session', 'rotate-key')
  t.equal(rotated.status, 0, rotated.stderr)
  t.match(rotated.stderr, /encrypting a new session key/, 'says what it is doing')
  t.match(rotated.stdout, /session key 1 is in use/, 'first start had made none: this is key 1')
  t.match(rotated.stdout, /ended 0 open sessions/)
  const again = cli.kagi('session', 'rotate-key')
  t.match(again.stdout, /session key 2 is in use/)
  t.equal(await cli.withDb(async (db) => (await db.selectFrom('session_key').select('id').execute()).length), 2)
  const ended = cli.kagi('session', 'end', 'alice@example.com')
  t.equal(ended.status, 0, ended.stderr)
  t.match(ended.stdout, /ended 0 open sessions of alice@example\.com/)
  const bad = cli.kagi('session', 'end', 'not an email')
  t.equal(bad.status, 2, 'a bad email is a usage error')
  t.match(bad.stderr, /EMAIL must be an ASCII email address/)
})
