import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { freshPostgresUrl } from './helper.js'
import { freePort } from './support/free-port.js'

// While `kagi serve` holds the embedded database, CLI commands run inside it over KAGI_DATA_DIR/kagi.sock.

const bin = join(import.meta.dirname, '..', 'bin', 'kagi.js')
const onPostgres = Boolean(process.env.DATABASE_URL)
const skipOnPostgres = onPostgres ? 'with DATABASE_URL every CLI process opens PostgreSQL itself: kagi serve has no CLI socket' : false
const asNobody = ['--reuid=nobody', '--regid=nogroup', '--clear-groups']
const setpriv = spawnSync('setpriv', [...asNobody, 'true']).status === 0
const skipNobody = skipOnPostgres || (process.getuid?.() !== 0 || !setpriv ? 'needs root and setpriv to run a client as nobody' : false)

/** A data directory, a `kagi` runner (optionally in another folder or as nobody) and a way to start `kagi serve` on it. */
async function installation(t: Test) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-sock-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env: Record<string, string> = { PATH: process.env.PATH!, HOME: '/tmp', KAGI_DATA_DIR: dataDir, KAGI_CA_PASSPHRASE: 'cli-test-passphrase-0123456789', PORT: String(await freePort()), KAGI_KEY_POOL_SIZE: '0' }
  if (onPostgres) env.DATABASE_URL = await freshPostgresUrl(t)
  const kagi = (args: string[], options: { cwd?: string; nobody?: boolean; env?: Record<string, string> } = {}) => {
    const [cmd, argv] = options.nobody ? ['setpriv', [...asNobody, process.execPath, bin, ...args]] : [process.execPath, [bin, ...args]]
    const r = spawnSync(cmd, argv as string[], { env: { ...env, ...options.env }, cwd: options.cwd, encoding: 'utf8', timeout: 120_000 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  const servers: ChildProcess[] = []
  t.teardown(() => servers.forEach((s) => s.kill('SIGKILL')))
  /** Starts `kagi serve`; resolves once it answers /readyz. */
  const serve = async (): Promise<{ child: ChildProcess; log: () => string }> => {
    const child = spawn(process.execPath, [bin, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    servers.push(child)
    let log = ''
    child.stdout!.on('data', (d) => (log += d))
    child.stderr!.on('data', (d) => (log += d))
    for (let i = 0; i < 300; i++) {
      if (await fetch(`http://127.0.0.1:${env.PORT}/readyz`).then((r) => r.ok, () => false)) return { child, log: () => log }
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`kagi serve did not become ready: ${log.slice(-1000)}`)
  }
  const stop = async (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    child.kill(signal)
    const [code] = await Promise.race([once(child, 'exit'), new Promise<[null]>((r) => setTimeout(() => r([null]), 15_000))])
    return code as number | null
  }
  return { dataDir, env, kagi, serve, stop }
}

t.test('a command given while kagi serve holds the embedded database runs in the server, audited', { skip: skipOnPostgres }, async (t) => {
  const { dataDir, env, kagi, serve, stop } = await installation(t)
  // Started together, as README's "Try it" does: the CLI waits for the server to finish starting.
  const starting = serve()
  // Once the server holds the data directory (its lock written), not after a fixed delay: on a slow
  // machine Node took longer than 300 ms to get there and the CLI, rightly, opened the database itself.
  const lock = join(dataDir, 'db.lock')
  for (let i = 0; i < 1500 && !(existsSync(lock) && readFileSync(lock).length > 0); i++) await new Promise((r) => setTimeout(r, 20))
  const created = kagi(['token', 'create', '--role', 'admin', '--name', 'ops'])
  const { child, log } = await starting
  t.equal(created.status, 0, created.stderr)
  t.match(created.stderr, /running in the kagi serve that holds/)
  const token = created.stdout.trim().split('\n').pop()!
  t.match(token, /^kagi_[A-Za-z0-9_-]{43}$/, 'the token is the last line, as without a server')

  const audit = kagi(['audit', 'list', '--action', 'token.created'])
  t.equal(audit.status, 0, audit.stderr)
  t.match(audit.stdout, /\bcli +token\.created\b/, 'audited with the CLI as the actor')
  const api = await fetch(`http://127.0.0.1:${env.PORT}/api/v1/audit?type=token.created`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(api.status, 200, 'the new token works against the running server')

  // File flags are the caller's: relative to the folder the CLI runs in, not the server's.
  const work = mkdtempSync(join(tmpdir(), 'kagi-sock-work-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))
  const issued = kagi(['issue', '--profile', 'user', '--user', 'alice@example.com', '--out', 'alice'], { cwd: work })
  t.equal(issued.status, 0, issued.stderr)
  t.ok(existsSync(join(work, 'alice.crt')) && existsSync(join(work, 'alice.p12')), 'written in the caller\'s folder')
  const serial = /serial ([0-9a-f]+)/.exec(issued.stdout)![1]!
  t.equal(kagi(['revoke', serial]).status, 0)
  const ocsp = await fetch(`http://127.0.0.1:${env.PORT}/api/v1/certificates/${serial}`, { headers: { authorization: `Bearer ${token}` } })
  t.match(await ocsp.json(), { status: 'revoked' }, 'the server sees the revocation')
  t.match(kagi(['crl']).stderr, /1 entry,/)

  const usage = kagi(['token', 'create', '--role', 'root', '--name', 'x'])
  t.equal(usage.status, 2, 'a usage error keeps its exit code')
  t.match(usage.stderr, /--role must be admin or mdm/)
  const migrate = kagi(['migrate'])
  t.equal(migrate.status, 1)
  t.match(migrate.stderr, /kagi migrate: the running kagi serve applied every pending migration/)
  t.match(kagi(['ca', 'init', '--force']).stderr, /stop kagi serve first/)
  const moved = kagi(['ca', 'set-public-url', 'https://kagi.example.com'])
  t.equal(moved.status, 1, 'the public URL is not changed under a running server')
  t.match(moved.stderr, /stop kagi serve, run this command, then start kagi serve again/)
  t.match(kagi(['token', 'list'], { env: { KAGI_PUBLIC_URL: 'https://elsewhere.example' } }).stderr, /warning: KAGI_PUBLIC_URL differs from the environment of the running kagi serve/)
  t.match(log(), /"command":"token create","exitCode":0/, 'the server logs each command')

  t.equal(await stop(child), 0, 'clean exit on SIGTERM')
  t.notOk(existsSync(join(dataDir, 'kagi.sock')), 'the socket is removed on shutdown')
  t.notOk(existsSync(join(dataDir, 'kagi.sock.key')), 'and its key')
})

t.test('a socket left by a crashed server is ignored by the CLI and replaced by the next server', { skip: skipOnPostgres }, async (t) => {
  const { dataDir, kagi, serve, stop } = await installation(t)
  const first = await serve()
  await stop(first.child, 'SIGKILL')
  t.ok(existsSync(join(dataDir, 'kagi.sock')), 'SIGKILL leaves the socket file')
  const alone = kagi(['token', 'create', '--role', 'mdm', '--name', 'a'])
  t.equal(alone.status, 0, `run directly: ${alone.stderr}`)
  t.notMatch(alone.stderr, /running in the kagi serve/)
  const second = await serve()
  const forwarded = kagi(['token', 'list'])
  t.equal(forwarded.status, 0, forwarded.stderr)
  t.match(forwarded.stderr, /running in the kagi serve/)
  t.match(forwarded.stdout, /mdm +a /)
  await stop(second.child)
})

t.test('the socket refuses another user\'s process', { skip: skipNobody }, async (t) => {
  const { dataDir, kagi, serve, stop } = await installation(t)
  const { child } = await serve()
  t.equal(kagi(['token', 'create', '--role', 'admin', '--name', 'root-may']).status, 0, 'root may (it bypasses file modes)')

  const closed = kagi(['token', 'list'], { nobody: true })
  t.equal(closed.status, 1, 'the data directory (0700) keeps nobody out')
  t.match(closed.stderr, /belongs to uid 0, not to kagi's user \(uid 65534\)/)

  // Even with the directory opened to others, the socket (0600) and its key file (0600) are kagi's user's.
  chmodSync(dataDir, 0o711)
  const socket = kagi(['token', 'create', '--role', 'admin', '--name', 'intruder'], { nobody: true })
  t.equal(socket.status, 1)
  t.match(socket.stderr, /refused: kagi serve is running on .* accepts commands only from its own user \(uid 0\) and root; this process runs as uid 65534/)

  // And a client that reaches the socket itself (its mode loosened) but cannot read the key is refused by the server.
  chmodSync(join(dataDir, 'kagi.sock'), 0o666)
  const script = `const s = require('node:net').connect(process.argv[1]); s.on('connect', () => s.write(JSON.stringify({ v: 1, key: 'guess', argv: ['token', 'create', '--role', 'admin', '--name', 'intruder'], cwd: '/', env: {} }) + '\\n')); let r = ''; s.on('data', (d) => (r += d)); s.on('close', () => process.stdout.write(r))`
  const raw = spawnSync('setpriv', [...asNobody, process.execPath, '-e', script, join(dataDir, 'kagi.sock')], { encoding: 'utf8', timeout: 30_000 })
  t.match(raw.stdout, /refused: the request did not carry the key/)
  t.match(raw.stdout, /"t":"exit","code":1/)
  chmodSync(dataDir, 0o700)
  t.notMatch(kagi(['token', 'list']).stdout, /intruder/, 'no token was created for nobody')
  await stop(child)
})

t.test('with PostgreSQL kagi serve opens no CLI socket and commands run directly', { skip: onPostgres ? false : 'PostgreSQL pass only (DATABASE_URL)' }, async (t) => {
  const { dataDir, kagi, serve, stop } = await installation(t)
  const { child } = await serve()
  t.notOk(existsSync(join(dataDir, 'kagi.sock')))
  const created = kagi(['token', 'create', '--role', 'admin', '--name', 'ops'])
  t.equal(created.status, 0, created.stderr)
  t.notMatch(created.stderr, /running in the kagi serve/)
  await stop(child)
})
