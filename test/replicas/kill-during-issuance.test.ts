import pg from 'pg'
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { databaseKind, freshPostgresUrl } from '../helper.js'
import { freePort } from '../support/free-port.js'
import { runKagi } from '../support/kagi-process.js'
import { adminToken, issue, issuerFile, makeCsr, NEEDS_POSTGRES, ocspStatus, pemDer, revoke, startReplica, type Issued } from './replicas.js'

/**
 * `kill -9` of a replica in the middle of an issuance load. One issuance
 * writes, in one transaction (src/db/enrollment-store.ts writeBatch): the
 * user (when new), the device (when new), the certificate, and its
 * `certificate.issued` audit event. A client that got 201 must find its
 * certificate in the database, byte for byte; whatever the kill cut short
 * must have left nothing: no user or device without a certificate, no
 * certificate without its audit event, no audit event without its
 * certificate, and an unbroken audit hash chain. The other replica goes on.
 */

const IN_FLIGHT = 8
const LOAD_MS = 3_000
const KILL_AFTER_MS = 1_500

t.test('kill -9 of a replica during an issuance load', { skip: databaseKind !== 'postgres' && NEEDS_POSTGRES }, async (t) => {
  const databaseUrl = await freshPostgresUrl(t)
  const portA = await freePort()
  const publicUrl = `http://127.0.0.1:${portA}`
  const a = await startReplica(t, { databaseUrl, publicUrl }, portA)
  const b = await startReplica(t, { databaseUrl, publicUrl })
  const token = adminToken(a.env)
  const csr = makeCsr(t)
  const issuer = await issuerFile(t, b.url)

  // Every request is a new user and a new device, so each 201 stands for a user, a device, a certificate and an event.
  const received: Issued[] = []
  const failures: string[] = []
  let next = 0
  const started = Date.now()
  const worker = async (w: number): Promise<void> => {
    while (Date.now() - started < LOAD_MS) {
      const i = next++
      try {
        const r = await issue(a.url, token, csr, `load-${w}-${i}@example.com`, `load-device-${i}`, AbortSignal.timeout(10_000))
        if (r.status === 201) received.push(r)
        else failures.push(`HTTP ${r.status}: ${r.body.slice(0, 120)}`)
      } catch (error) {
        failures.push(String((error as Error).cause ?? error))
        await sleep(50) // A is gone: do not spin on refused connections
      }
    }
  }
  const load = Promise.all(Array.from({ length: IN_FLIGHT }, (_, w) => worker(w)))
  await sleep(KILL_AFTER_MS)
  const beforeKill = received.length
  a.process.child.kill('SIGKILL')
  await load
  t.comment(`${received.length} certificates received (${beforeKill} before the kill), ${failures.length} requests failed`)
  t.ok(beforeKill > 0, 'certificates were being issued when A was killed')
  t.ok(failures.length > 0, 'and requests in flight or after it failed')
  t.equal(a.process.child.signalCode, 'SIGKILL', 'A died of SIGKILL')

  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  t.teardown(() => db.end())

  const stored = new Map((await db.query<{ serial: string; der: Buffer }>('select serial, der from certificate')).rows.map((r) => [r.serial, r.der]))
  const missing = received.filter((r) => !stored.get(r.serial!)?.equals(pemDer(r.certificate!)))
  t.same(missing.map((r) => r.serial), [], `each of the ${received.length} certificates a client received is in the database, the same bytes`)

  const q = async (sql: string): Promise<string[]> => (await db.query<{ x: string }>(sql)).rows.map((r) => r.x)
  t.same(await q(`select u.email as x from app_user u where u.email like 'load-%' and not exists (select 1 from certificate c where c.user_id = u.id)`), [], 'no user without a certificate')
  t.same(await q(`select d.id as x from device d where not exists (select 1 from certificate c where c.device_id = d.id)`), [], 'no device without a certificate')
  t.same(
    await q(`select c.serial as x from certificate c where c.profile = 'user' and not exists (select 1 from audit_event e where e.action = 'certificate.issued' and e.serial = c.serial)`),
    [],
    'no certificate without its certificate.issued event',
  )
  t.same(await q(`select e.serial as x from audit_event e where e.action = 'certificate.issued' and not exists (select 1 from certificate c where c.serial = e.serial)`), [], 'no issuance event without its certificate')
  const counts = (await db.query<{ users: string; devices: string; certs: string }>(
    `select (select count(*) from app_user where email like 'load-%') as users, (select count(*) from device) as devices, (select count(*) from certificate where profile = 'user') as certs`,
  )).rows[0]!
  t.ok(Number(counts.certs) >= received.length, `${counts.certs} certificates stored (a commit whose answer the kill cut off is complete too)`)
  t.equal(Number(counts.devices), Number(counts.certs), 'one device per certificate, as the load asked')
  t.equal(Number(counts.users), Number(counts.certs), 'one user per certificate, as the load asked')
  const verify = runKagi(b.env, ['audit', 'verify'])
  t.equal(verify.status, 0, `kagi audit verify: the hash chain is whole (${(verify.stdout + verify.stderr).trim().split('\n').at(-1)})`)

  t.test('B goes on', async (t) => {
    t.equal((await fetch(`${b.url}/readyz`)).status, 200, 'B is ready')
    const fresh = await issue(b.url, token, csr, 'after-kill@example.com', 'after-kill-device')
    t.equal(fresh.status, 201, `B issues${fresh.status === 201 ? '' : `: ${fresh.body.slice(0, 200)}`}`)
    if (received[0]) t.equal(await ocspStatus(b.url, issuer, received[0].serial!), 'good', 'B answers for a certificate A issued')
    t.equal(await revoke(b.url, token, fresh.serial!), 200, 'B revokes')
    t.equal(await ocspStatus(b.url, issuer, fresh.serial!, { nonce: true }), 'revoked')
  })
})
