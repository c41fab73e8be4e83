import { mkdtempSync, rmSync } from 'node:fs'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { SHUTDOWN_GRACE_MS } from '../src/server.js'
import { build, freshPostgresUrl } from './helper.js'
import { freePort } from './support/free-port.js'
import { runKagi, secretsInLog, startKagi } from './support/kagi-process.js'

// Graceful shutdown: on SIGTERM GET /readyz stops answering 200 at once, the listener closes,
// a request in flight still completes, the database is closed and the process exits with 0.

t.test('GET /readyz answers 503 once the services are draining, 200 before', async (t) => {
  const { app, services } = await build(t)
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
  services.draining = true
  const res = await app.inject({ url: '/readyz' })
  t.equal(res.statusCode, 503)
  t.equal(res.json().error.code, 'shutting_down')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'the process is still alive')
})

t.test('secretsInLog finds secrets by shape and by value', async (t) => {
  const env = { KAGI_CA_PASSPHRASE: 'the-passphrase-of-this-test' }
  t.same(secretsInLog('{"msg":"kagi ready","serial":"5b50f019534c0167f157a45216b9ee67"}', env), [])
  t.same(secretsInLog(`{"token":"kagi_${'A'.repeat(43)}"}`, env), ['an API token'])
  t.same(secretsInLog('{"p":"k7qm-x2ct-9hpw-ae3r-m4zk"}', env), ['a PKCS#12 password'])
  t.same(secretsInLog('-----BEGIN PRIVATE KEY-----', env), ['a PEM block'])
  t.same(secretsInLog('using the-passphrase-of-this-test', env, { other: 'x-other-secret' }), ['KAGI_CA_PASSPHRASE'])
  t.same(secretsInLog('x-other-secret', env, { other: 'x-other-secret' }), ['other'])
})

async function serveEnv(t: Test): Promise<Record<string, string>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-shutdown-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: dataDir,
    KAGI_DATA_DIR: dataDir,
    KAGI_CA_PASSPHRASE: 'shutdown-test-passphrase-0123456789',
    HOST: '127.0.0.1',
    PORT: String(port),
    KAGI_PUBLIC_URL: `http://127.0.0.1:${port}`,
  }
  if (process.env.DATABASE_URL) env.DATABASE_URL = await freshPostgresUrl(t)
  return env
}

/** GET /readyz's status, or 'refused' once nothing listens. */
const readyz = (port: string): Promise<number | 'refused'> =>
  fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.status, () => 'refused' as const)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('SIGTERM with an issuance in flight: it completes, /readyz stops answering 200, exit 0', async (t) => {
  const env = await serveEnv(t)
  const kagi = await startKagi(t, env, { readyTimeoutMs: 60_000 })
  // On the embedded database the running server runs the command (CLI socket).
  const created = runKagi(env, ['token', 'create', '--role', 'admin', '--name', 'shutdown-test'])
  t.equal(created.status, 0, created.stderr)
  const token = created.stdout.trim().split('\n').at(-1)!

  // A slow client: the headers and most of the body now, the rest after SIGTERM, so the request is
  // in flight across the signal. Without a CSR kagi generates the RSA key (the slowest issuance).
  const body = JSON.stringify({ profile: 'user', user: 'shutdown@example.com' })
  const req = httpRequest({
    host: '127.0.0.1',
    port: Number(env.PORT),
    method: 'POST',
    path: '/api/v1/certificates',
    agent: false,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  })
  const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on('response', (res: IncomingMessage) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode!, text }))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
  await new Promise<void>((resolve) => req.write(body.slice(0, 10), () => resolve()))
  // Not a timing assertion: lets the server read the headers it has been sent (loopback, milliseconds).
  await sleep(500)
  const exited = new Promise<number | null>((resolve) => kagi.child.once('exit', (code) => resolve(code)))
  kagi.child.kill('SIGTERM')

  let status: number | 'refused' = 200
  for (let i = 0; i < 50 && status === 200; i++) {
    status = await readyz(env.PORT!)
    if (status === 200) await sleep(100)
  }
  t.not(status, 200, `GET /readyz after SIGTERM: ${status}`)
  t.ok(status === 503 || status === 'refused', `GET /readyz answers 503 or nothing listens (${status})`)

  req.end(body.slice(10))
  const res = await answered
  t.equal(res.status, 201, res.text.slice(0, 300))
  const issued = JSON.parse(res.text) as { serial: string; pkcs12: string; pkcs12Password: string }
  t.match(issued.serial, /^[0-9a-f]+$/)
  t.ok(issued.pkcs12Password, 'a server-side key, so a PKCS#12 password came back')

  const code = await Promise.race([exited, sleep(SHUTDOWN_GRACE_MS + 15_000).then(() => 'still running' as const)])
  t.equal(code, 0, `exit code (log: ${kagi.log().slice(-800)})`)
  const log = kagi.log()
  t.match(log, /"signal":"SIGTERM".*"msg":"shutting down/)
  t.notMatch(log, /did not finish within/)
  // The secrets this run handled never reached its log.
  t.same(secretsInLog(log, env, { token, 'PKCS#12 password': issued.pkcs12Password, 'PKCS#12 file': issued.pkcs12.slice(0, 64) }), [], 'no secret in the log')
})

t.test('a request that never finishes does not hold the process beyond the bound', async (t) => {
  const env = await serveEnv(t)
  const kagi = await startKagi(t, env, { readyTimeoutMs: 60_000 })
  // Headers of a POST whose body never comes: in flight until the server gives up on it.
  const req = httpRequest({
    host: '127.0.0.1',
    port: Number(env.PORT),
    method: 'POST',
    path: '/api/v1/certificates',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': 1000 },
  })
  req.on('error', () => {})
  t.teardown(() => req.destroy())
  await new Promise<void>((resolve) => req.write('{', () => resolve()))
  await sleep(500)
  const code = await kagi.stop('SIGTERM', SHUTDOWN_GRACE_MS + 15_000)
  t.equal(code, 1, 'exits with 1 once the grace period is over')
  t.match(kagi.log(), /shutdown did not finish within 10 s: exiting/)
})
