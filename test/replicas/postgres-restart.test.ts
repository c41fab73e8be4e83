import pg from 'pg'
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { requireComponent } from '../support/components.js'
import { runKagi } from '../support/kagi-process.js'
import { freePort } from '../support/free-port.js'
import { postgresBinDir, POSTGRES_INSTALL_HINT, startPrivateCluster } from './private-postgres.js'
import { adminToken, issue, issuerFile, makeCsr, ocspStatus, startReplica, within } from './replicas.js'

/**
 * PostgreSQL restarted under a small load, on a cluster of this test's own
 * (so it runs on both passes): kagi must stay up, say so on /readyz (503)
 * and answer requests with a JSON 5xx while the database is gone, then
 * recover by itself: ready again, issuing, and listening for revocations
 * again (one made by another process reaches its OCSP cache).
 */

const WORKERS = 2
const jitter = (ms: number) => ms + Math.floor(Math.random() * ms)

t.test('PostgreSQL restarted in the middle of a load', async (t) => {
  const bin = postgresBinDir()
  if (!requireComponent(t, { name: 'PostgreSQL server (initdb, pg_ctl)', available: bin !== undefined, install: POSTGRES_INSTALL_HINT })) return
  const cluster = await startPrivateCluster(t, bin!)
  const admin = new pg.Client({ connectionString: cluster.url('postgres') })
  await admin.connect()
  await admin.query('create database kagi')
  await admin.end()
  const databaseUrl = cluster.url('kagi')
  const port = await freePort()
  const kagi = await startReplica(t, { databaseUrl, publicUrl: `http://127.0.0.1:${port}` }, port)
  const token = adminToken(kagi.env)
  const csr = makeCsr(t)
  const issuer = await issuerFile(t, kagi.url)
  const ready = async () => (await fetch(`${kagi.url}/readyz`)).status

  // The load: issuances all along, each answer recorded (status, and whether a failure was JSON).
  const answers: { status: number; json: boolean; phase: string }[] = []
  const transportErrors: string[] = []
  let phase = 'before'
  let stopLoad = false
  let n = 0
  const worker = async () => {
    while (!stopLoad) {
      const i = n++
      try {
        const r = await issue(kagi.url, token, csr, `restart-${i}@example.com`, `restart-device-${i}`, AbortSignal.timeout(15_000))
        let json = true
        if (r.status !== 201) {
          try {
            json = typeof (JSON.parse(r.body) as { error?: { code?: unknown } }).error?.code === 'string'
          } catch {
            json = false
          }
        }
        answers.push({ status: r.status, json, phase })
      } catch (error) {
        transportErrors.push(String((error as Error).cause ?? error))
      }
      await sleep(jitter(50))
    }
  }
  const load = Promise.all(Array.from({ length: WORKERS }, worker))
  t.teardown(async () => {
    stopLoad = true
    await load
  })
  await sleep(1_000)

  const stopped = await cluster.stop()
  t.equal(stopped.status, 0, `pg_ctl stop -m fast: ${stopped.stderr.trim()}`)
  phase = 'outage'
  await sleep(300)
  if (kagi.process.child.exitCode !== null) t.fail(`kagi exited (${kagi.process.child.exitCode}) when PostgreSQL stopped: ${kagi.process.log().slice(-3000)}`)
  const notReadyMs = await within(5_000, 100, async () => (await ready()) === 503)
  t.ok(notReadyMs !== undefined, `/readyz answers 503 during the outage (after ${notReadyMs} ms)`)
  const readyz = await fetch(`${kagi.url}/readyz`)
  t.match(await readyz.json(), { error: { code: 'database_unavailable' } }, '/readyz says why, in JSON')
  const during = await issue(kagi.url, token, csr, 'outage@example.com', 'outage-device')
  t.equal(during.status, 503, 'an issuance fails with 503: the client may retry')
  t.match(JSON.parse(during.body), { error: { code: 'database_unavailable' } }, `as JSON: ${during.body.slice(0, 200)}`)
  t.notMatch(during.body, /\n\s+at /, 'no stack trace')
  t.equal((await fetch(`${kagi.url}/healthz`)).status, 200, 'the process is up (/healthz)')
  await sleep(1_500)

  const restarted = await cluster.start()
  t.equal(restarted.status, 0, `pg_ctl start: ${restarted.stderr.trim()}`)
  phase = 'after'
  const readyMs = await within(20_000, 100, async () => (await ready()) === 200)
  t.ok(readyMs !== undefined, `/readyz is 200 again by itself (after ${readyMs} ms)`)
  const okMs = await within(10_000, 100, async () => answers.some((a) => a.phase === 'after' && a.status === 201))
  t.ok(okMs !== undefined, 'the load is served again')
  stopLoad = true
  await load

  t.same(transportErrors, [], 'every request got an HTTP answer (kagi never went away)')
  const failed = answers.filter((a) => a.status !== 201)
  t.same(failed.filter((a) => a.status < 500 || !a.json), [], `failures are JSON 5xx only (${failed.length} of ${answers.length}: ${[...new Set(failed.map((a) => `${a.phase} ${a.status}`))].join(', ')})`)
  t.ok(answers.some((a) => a.phase === 'before' && a.status === 201), 'the load was served before the outage')
  t.equal(kagi.process.child.exitCode, null, 'kagi was not restarted: the same process')

  // LISTEN again: a revocation made by another process (the CLI) reaches this one's OCSP cache.
  const watcher = new pg.Client({ connectionString: databaseUrl })
  await watcher.connect()
  t.teardown(() => watcher.end())
  const listening = await within(10_000, 100, async () => (await watcher.query(`select 1 from pg_stat_activity where datname = current_database() and query ilike 'listen%'`)).rowCount! > 0)
  t.ok(listening !== undefined, `kagi listens for revocations again (after ${listening} ms)`)
  const cert = await issue(kagi.url, token, csr, 'after-restart@example.com', 'after-restart-device')
  t.equal(cert.status, 201, 'issuance works')
  t.equal(await ocspStatus(kagi.url, issuer, cert.serial!), 'good')
  t.equal(await ocspStatus(kagi.url, issuer, cert.serial!), 'good', 'a pre-signed good answer is cached')
  const revoked = runKagi(kagi.env, ['revoke', cert.serial!, '--reason', 'keyCompromise'])
  t.equal(revoked.status, 0, `kagi revoke (another process): ${revoked.stderr.trim().slice(0, 200)}`)
  const seenMs = await within(1_000, 50, async () => (await ocspStatus(kagi.url, issuer, cert.serial!)) === 'revoked')
  t.ok(seenMs !== undefined, `the server's OCSP says revoked within 1 s, through NOTIFY (took ${seenMs} ms)`)
})
