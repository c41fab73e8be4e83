import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { freshPostgresUrl } from './helper.js'
import { freePort } from './support/free-port.js'
import { runKagiAsync, startKagi } from './support/kagi-process.js'
import { commandExists, requireComponent } from './support/components.js'
import { startFakePanos } from './panos/fake-panos.js'
import { selfSignedTls } from './panos/helpers.js'

// `kagi doctor` through the built CLI (bin/kagi.js; `npm run -s build` first), on the database CI
// runs the suite with. On the embedded database a running kagi serve holds it: doctor is then
// forwarded over the socket and checks the server's view; with PostgreSQL the CLI opens it itself.

const onPostgres = Boolean(process.env.DATABASE_URL)
const passphrase = 'doctor-test-passphrase-0123456789'

interface Check {
  name: string
  status: 'ok' | 'warn' | 'fail' | 'skip'
  detail: string
  fix?: string
}

/** A data directory and the environment of one installation, listening on a free loopback port. */
async function installation(t: Test, extra: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-doctor-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const env: Record<string, string> = {
    PATH: process.env.PATH!,
    HOME: '/tmp',
    HOST: '127.0.0.1',
    PORT: String(port),
    KAGI_DATA_DIR: dataDir,
    KAGI_CA_PASSPHRASE: passphrase,
    KAGI_PUBLIC_URL: `http://127.0.0.1:${port}`,
    KAGI_LOG_LEVEL: 'warn',
    ...extra,
  }
  if (onPostgres && !env.DATABASE_URL) env.DATABASE_URL = await freshPostgresUrl(t)
  return { dataDir, env }
}

/** `kagi doctor --json`: the exit code, the checks by name, and everything printed. */
async function doctor(env: Record<string, string>) {
  const r = await runKagiAsync(env, ['doctor', '--json'])
  let parsed: { ok: boolean; checks: Check[] }
  try {
    parsed = JSON.parse(r.stdout)
  } catch {
    throw new Error(`kagi doctor --json printed no JSON (exit ${r.status}): ${r.stdout}\n${r.stderr}`)
  }
  const byName = new Map(parsed.checks.map((c) => [c.name, c]))
  return { ...r, ok: parsed.ok, checks: parsed.checks, check: (name: string) => byName.get(name) ?? { name, status: 'absent', detail: '' }, all: r.stdout + r.stderr }
}

const everyCheck = ['configuration', 'data directory', 'database', 'clock', 'CA', 'CA: root', 'CA: issuing', 'public URL', 'public URL: CRL', 'public URL: OCSP', 'SAML', 'PAN-OS']

t.test('a running installation: healthy, then a loosened data directory, a refused PAN-OS key and a public URL nobody answers', async (t) => {
  // The firewall double speaks https, as a firewall does (doctor warns about an http:// KAGI_PANOS_URL).
  if (!requireComponent(t, { name: 'openssl', available: commandExists('openssl'), install: 'openssl' })) return
  const tlsDir = mkdtempSync(join(tmpdir(), 'kagi-doctor-tls-'))
  t.teardown(() => rmSync(tlsDir, { recursive: true, force: true }))
  const fake = await startFakePanos({ tls: selfSignedTls(tlsDir) })
  t.teardown(() => fake.close())
  const key = fake.issueKey('kagi-api')
  const { dataDir, env } = await installation(t, { KAGI_PANOS_URL: fake.url, KAGI_PANOS_API_KEY: key, KAGI_PANOS_CA_FILE: join(tlsDir, 'tls.crt') })
  const server = await startKagi(t, env)
  const issued = await runKagiAsync(env, ['issue', '--profile', 'user', '--user', 'alice@example.com', '--out', join(dataDir, 'alice')])
  t.equal(issued.status, 0, issued.stderr)

  await t.test('ok/healthy: every check ok or skipped, exit 0, each printed as a line', async (t) => {
    const human = await runKagiAsync(env, ['doctor'])
    t.equal(human.status, 0, human.stdout + human.stderr)
    const lines = human.stdout.trimEnd().split('\n')
    for (const name of everyCheck) t.match(human.stdout, new RegExp(`^(ok|skip) +${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}  +\\S`, 'm'), `${name} is a line of its own, ok or skip`)
    t.notMatch(human.stdout, /^(warn|fail) /m)
    t.match(lines.at(-1), /^\d+ ok, 0 warn, 0 fail, \d+ skipped$/)
    if (onPostgres) t.notMatch(human.stderr, /running in the kagi serve/, 'with PostgreSQL the CLI opens the database itself')
    else t.match(human.stderr, /running in the kagi serve that holds/, 'on the embedded database the running server runs it')

    const r = await doctor(env)
    t.equal(r.status, 0)
    t.equal(r.ok, true)
    t.same(r.checks.map((c) => c.name), everyCheck, 'every check, in order')
    t.match(r.check('public URL: CRL').detail, new RegExp(`^${env.KAGI_PUBLIC_URL}/pki/crl: CRL number \\d+ signed by the issuing CA`))
    t.match(r.check('public URL: OCSP').detail, /"good" about the last certificate issued .* signed by a delegated responder/)
    t.match(r.check('PAN-OS'), { status: 'ok', detail: /answers the XML API with these credentials: fake-fw, PAN-OS 11\.1\.0/ })
    t.match(r.check('SAML'), { status: 'skip', detail: /not configured/ })
    t.match(r.check('CA: issuing'), { status: 'ok', detail: /valid until \d{4}-\d\d-\d\d/ })
    t.ok(fake.requests.some((q) => q.params.type === 'op' && /<show><system><info>/.test(q.params.cmd ?? '') && q.auth === 'header'), 'asked the firewall for its system info, the key in a header')
    t.same(fake.writes(), [], 'and changed nothing on it')
    t.notOk(r.all.includes(key) || r.all.includes(passphrase), 'neither the API key nor the passphrase is printed')
  })

  await t.test('warn/data-dir-0777: data-dir.ts makes it private again and doctor says so, still exit 0', async (t) => {
    chmodSync(dataDir, 0o777)
    const r = await doctor(env)
    t.equal(r.status, 0, 'a warning is no failure')
    t.match(r.check('data directory'), { status: 'warn', detail: /was accessible to other users \(mode 777\); changed it to 0700/, fix: /what loosened the modes/ })
    t.equal(statSync(dataDir).mode & 0o777, 0o700)
  })

  await t.test('fail/panos-key-refused: the PAN-OS check fails naming the variable, exit 1', async (t) => {
    fake.expireKey(key)
    const r = await doctor(env)
    t.equal(r.status, 1)
    t.equal(r.ok, false)
    t.match(r.check('PAN-OS'), { status: 'fail', detail: /refused the API key .*KAGI_PANOS_API_KEY/, fix: /new API key/ })
    t.same(r.checks.filter((c) => c.status === 'fail').map((c) => c.name), ['PAN-OS'], 'only that check fails')
    t.notOk(r.all.includes(key), 'the key is not printed')
  })

  await t.test('fail/public-url-closed-port: the CRL and OCSP fetches fail with the URL and why', async (t) => {
    t.equal(await server.stop(), 0, 'kagi serve stopped')
    const r = await doctor(env)
    t.equal(r.status, 1)
    for (const name of ['public URL: CRL', 'public URL: OCSP']) {
      t.match(r.check(name), { status: 'fail', detail: new RegExp(`^cannot reach ${env.KAGI_PUBLIC_URL}/(pki/crl|ocsp): .*ECONNREFUSED`), fix: /kagi serve is running/ })
    }
    t.match(r.check('database'), { status: 'ok' }, 'the CLI opened the database itself')
    t.notMatch(r.all, /\n\s+at /, 'no stack trace')
  })
})

t.test('fail/database-unreachable: the database check fails in one line, the checks needing it are skipped', async (t) => {
  const { env } = await installation(t, { DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/kagi` })
  const r = await runKagiAsync(env, ['doctor'])
  t.equal(r.status, 1)
  t.match(r.stdout, /^fail +database +cannot open PostgreSQL at 127\.0\.0\.1:\d+\/kagi: .*ECONNREFUSED/m)
  t.match(r.stdout, /^ +fix: check that PostgreSQL runs/m)
  for (const name of ['clock', 'CA', 'public URL: CRL', 'public URL: OCSP']) t.match(r.stdout, new RegExp(`^skip +${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +not checked: it needs the database`, 'm'))
  t.match(r.stdout, /^skip +PAN-OS +not configured/m)
  t.match(r.stdout, /^ok +configuration/m, 'the other checks still run')
  t.notMatch(r.stdout + r.stderr, /\n\s+at |Error:/, 'no stack trace')
})

t.test('CA validity: the thresholds a running installation cannot show', async (t) => {
  const { checkCaValidity, CA_EXPIRY_WARN_DAYS } = await import('../src/use-cases/doctor/ca-validity.js')
  const now = new Date(Date.UTC(2030, 0, 1))
  const days = (n: number) => new Date(now.getTime() + n * 86_400_000)
  const cert = (notBefore: Date, notAfter: Date) => ({ serial: Buffer.from([0x01, 0x02]), notBefore, notAfter }) as Parameters<typeof checkCaValidity>[1]
  const cases: [string, Date, Date, string, RegExp][] = [
    ['ok/years-left', days(-10), days(3650), 'ok', /valid until 2039-12-30 \(3650 days; serial 0102\)/],
    ['ok/exactly-the-threshold', days(-10), days(CA_EXPIRY_WARN_DAYS), 'ok', /90 days/],
    ['warn/expires-within-90-days', days(-10), days(CA_EXPIRY_WARN_DAYS - 1), 'warn', /expires in 89 days \(2030-03-31\)/],
    ['fail/expired', days(-400), days(-1), 'fail', /expired on 2029-12-31/],
    ['fail/not-yet-valid', days(1), days(400), 'fail', /is not valid before 2030-01-02/],
  ]
  for (const [name, notBefore, notAfter, status, detail] of cases) {
    t.match(checkCaValidity('issuing', cert(notBefore, notAfter), now), { name: 'CA: issuing', status, detail }, name)
  }
  t.match(checkCaValidity('root', cert(days(-10), days(-1)), now), { name: 'CA: root', fix: /kagi ca init --force/ }, 'a root is replaced by a new hierarchy')
})
