import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { databaseKind, freshPostgresUrl } from '../helper.js'
import { freePort } from '../support/free-port.js'
import { runKagi, startKagi } from '../support/kagi-process.js'
import { adminToken, issue, issuerFile, makeCsr, ocspStatus, replicaEnv, revoke } from '../replicas/replicas.js'

// KAGI_WORKERS=2 (src/startup/cluster-primary.ts): two `kagi serve` processes on one port and one PostgreSQL
// database, supervised by a third. What the API says must hold in both at once; metrics are the cluster's.

const NEEDS_POSTGRES = 'KAGI_WORKERS > 1 needs PostgreSQL'

/** The pids of a process's children (Linux /proc). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

async function waitFor(what: string, probe: () => boolean | Promise<boolean>, withinMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + withinMs; Date.now() < deadline; await sleep(100)) if (await probe()) return
  throw new Error(`timed out waiting for ${what}`)
}

const counter = (text: string, name: string): number =>
  text.split('\n').filter((l) => l.startsWith(name)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)

t.test('KAGI_WORKERS counts processes; more than one needs PostgreSQL; auto is one per CPU, or one on the embedded database', async (t) => {
  t.throws(() => loadConfig({ KAGI_WORKERS: '2' }), /KAGI_WORKERS: more than one process needs PostgreSQL/)
  t.throws(() => loadConfig({ KAGI_WORKERS: '0' }), /KAGI_WORKERS/)
  t.throws(() => loadConfig({ KAGI_WORKERS: 'many' }), /KAGI_WORKERS/)
  t.equal(loadConfig({}).workers, 1, 'one process unless asked')
  t.equal(loadConfig({ KAGI_WORKERS: 'auto' }).workers, 1, 'auto on the embedded database')
  t.ok(loadConfig({ KAGI_WORKERS: 'auto', DATABASE_URL: 'postgres://x@127.0.0.1/db' }).workers >= 1)
  t.equal(loadConfig({ KAGI_WORKERS: '3', DATABASE_URL: 'postgres://x@127.0.0.1/db' }).workers, 3)
})

t.test('two processes on one port: revocations at once in both, the cluster\'s metrics, a dead process replaced, one clean stop', { skip: databaseKind !== 'postgres' && NEEDS_POSTGRES }, async (t) => {
  const databaseUrl = await freshPostgresUrl(t)
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const env = { ...replicaEnv(t, { databaseUrl, publicUrl: url }, port), KAGI_WORKERS: '2', KAGI_LOG_LEVEL: 'info' }
  const server = await startKagi(t, env, { readyTimeoutMs: 60_000 })
  const primary = server.child.pid!
  await waitFor('two kagi serve processes', () => childrenOf(primary).length === 2)
  await waitFor('the cluster ready line', () => /kagi ready in 2 processes/.test(server.log()))

  const token = adminToken(env)
  const csr = makeCsr(t)
  const issuer = await issuerFile(t, url)
  const issued = await issue(url, token, csr, 'cluster@example.com', 'cluster-device')
  t.equal(issued.status, 201, issued.body.slice(0, 300))
  const serial = issued.serial!
  // Every openssl run is a new connection, accepted by either process: both cache the pre-signed "good".
  const statuses = (n: number) => Promise.all(Array.from({ length: n }, () => ocspStatus(url, issuer, serial)))
  t.same(new Set(await statuses(16)), new Set(['good']))
  t.equal(await revoke(url, token, serial), 200)
  t.same(new Set(await statuses(16)), new Set(['revoked']), 'answered revoked by every process as soon as the API answered')

  const before = counter(await (await fetch(`${url}/metrics`)).text(), 'kagi_ocsp_requests_total')
  await statuses(10)
  const scrapes = await Promise.all(Array.from({ length: 4 }, async () => (await fetch(`${url}/metrics`, { headers: { connection: 'close' } })).text()))
  for (const text of scrapes) {
    t.equal(counter(text, 'kagi_ocsp_requests_total'), before + 10, 'whichever process answers /metrics counts the requests of both')
    t.equal(text.split('\n').filter((l) => l.startsWith('kagi_build_info{')).length, 1, 'one build_info series, not one per process')
  }

  const [victim] = childrenOf(primary)
  process.kill(victim!, 'SIGKILL')
  await waitFor('a replacement process', () => {
    const now = childrenOf(primary)
    return now.length === 2 && !now.includes(victim!)
  })
  t.match(server.log(), /kagi serve process exited: starting another/)
  // While the replacement starts, a scrape still answers (from the processes that are ready).
  const during = await fetch(`${url}/metrics`)
  t.equal(during.status, 200, 'GET /metrics while a process is starting')
  t.ok(counter(await during.text(), 'kagi_ocsp_requests_total') > 0)
  await waitFor('the replacement ready', () => /"worker":3,"msg":"kagi ready/.test(server.log()))
  t.equal(await ocspStatus(url, issuer, serial), 'revoked', 'still answering, still revoked')

  const children = childrenOf(primary)
  const code = await server.stop('SIGTERM')
  t.equal(code, 0, 'SIGTERM: every process drains and stops, exit code 0', { log: server.log().slice(-3000) })
  for (const pid of children) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `process ${pid} is gone`)
})

t.test('a process that cannot start stops the cluster with its exit code instead of being restarted', { skip: databaseKind !== 'postgres' && NEEDS_POSTGRES }, async (t) => {
  const databaseUrl = await freshPostgresUrl(t)
  const port = await freePort()
  const env = replicaEnv(t, { databaseUrl, publicUrl: `http://127.0.0.1:${port}` }, port)
  t.equal(runKagi(env, ['ca', 'init']).status, 0)
  const wrong = runKagi({ ...env, KAGI_WORKERS: '2', KAGI_CA_PASSPHRASE: 'another-passphrase-0123456789-x' }, ['serve'], { timeoutMs: 60_000 })
  t.equal(wrong.status, 1, 'exit code 1')
  t.match(wrong.stderr + wrong.stdout, /passphrase/i, 'the reason is printed')
  t.match(wrong.stdout + wrong.stderr, /stopped while starting: stopping the others/)
  t.notMatch(wrong.stdout + wrong.stderr, /starting another/, 'not restarted in a loop')
})
