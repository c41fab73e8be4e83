import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { freshPostgresUrl } from './helper.js'
import { run } from './support/openssl.js'
import { freePort } from './support/free-port.js'

const bin = join(import.meta.dirname, '..', 'bin', 'kagi.js')

/** An environment for one kagi installation: a data dir and, in the PostgreSQL pass, its own database. */
async function installation(t: Test) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-cli-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env: Record<string, string> = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', KAGI_DATA_DIR: dataDir, KAGI_CA_PASSPHRASE: 'cli-test-passphrase-0123456789' }
  if (process.env.DATABASE_URL) env.DATABASE_URL = await freshPostgresUrl(t)
  const kagi = (...args: string[]) => {
    const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8', timeout: 60_000 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  return { env, dataDir, kagi }
}

t.test('token create, ca init/show, issue', async (t) => {
  const { kagi, dataDir } = await installation(t)
  const created = kagi('token', 'create', '--role', 'admin', '--name', 'ops')
  t.equal(created.status, 0, created.stderr)
  const lines = created.stdout.trim().split('\n')
  t.match(lines[lines.length - 1], /^kagi_[A-Za-z0-9_-]{43}$/, 'the token is the last line')
  t.notMatch(created.stderr, /kagi_[A-Za-z0-9_-]{43}/, 'and only on stdout')

  const init = kagi('ca', 'init')
  t.equal(init.status, 0, init.stderr)
  t.match(init.stdout, /CA created/)
  const again = kagi('ca', 'init')
  t.match(again.stdout, /already exists/)
  const show = kagi('ca', 'show', '--pem')
  t.equal(show.status, 0)
  t.match(show.stdout, /subject: +O=kagi, CN=kagi Root CA/)
  t.match(show.stdout, /pathLen: +0/)
  t.notMatch(show.stdout + show.stderr, /PRIVATE KEY/, 'no key material printed')

  const out = join(dataDir, 'alice')
  const issued = kagi('issue', '--profile', 'user', '--user', 'alice@example.com', '--out', out)
  t.equal(issued.status, 0, issued.stderr)
  const password = issued.stdout.trim().split('\n').pop()!
  const info = run('openssl', ['pkcs12', '-info', '-noout', '-in', `${out}.p12`, '-passin', `pass:${password}`])
  t.equal(info.status, 0, info.stderr)
  const chain = `${out}.chain.pem`
  const verify = run('openssl', ['verify', '-partial_chain', '-CAfile', chain, `${out}.crt`])
  t.equal(verify.status, 0, verify.stderr)

  const serial = /serial ([0-9a-f]+)/.exec(issued.stdout)![1]!
  const revoked = kagi('revoke', serial, '--reason', 'keyCompromise')
  t.equal(revoked.status, 0, revoked.stderr)
  t.match(revoked.stdout, new RegExp(`revoked ${serial} \\(keyCompromise\\)`))
  t.match(kagi('revoke', serial, '--reason', 'superseded').stdout, /already revoked .*keyCompromise/)
  t.equal(kagi('revoke', 'ab'.repeat(16)).status, 1, 'unknown serial fails')
  t.match(kagi('revoke', serial, '--reason', 'bogus').stderr, /reason must be one of/)
  const crl = kagi('crl')
  t.equal(crl.status, 0, crl.stderr)
  t.match(crl.stderr, /1 entry,/)
  const crlText = run('openssl', ['crl', '-noout', '-text'], crl.stdout)
  t.match(crlText.stdout, new RegExp(`Serial Number: ${serial.toUpperCase()}[\\s\\S]*Key Compromise`))
  t.equal(kagi('crl', 'root').status, 0, 'root CRL')

  const device = kagi('issue', '--profile', 'device', '--user', 'alice@example.com', '--device-name', 'Build box', '--platform', 'windows', '--out', join(dataDir, 'd'))
  t.equal(device.status, 1)
  t.match(device.stderr, /requires --hostname/, 'CLI flags, not API fields')
  const usage = kagi('token', 'create', '--role', 'root', '--name', 'x')
  t.equal(usage.status, 2)
  t.match(usage.stderr, /--role must be admin or mdm/)
  const unknown = kagi('frobnicate')
  t.equal(unknown.status, 2)
  t.match(unknown.stderr, /unknown command/)
  const listed = kagi('token', 'list')
  t.match(listed.stdout, /admin +ops/)
  t.notMatch(listed.stdout, /kagi_/, 'token values are never listed')
})

t.test('token names are unique among live tokens; --replace revokes the old one', async (t) => {
  const { kagi } = await installation(t)
  t.equal(kagi('token', 'create', '--role', 'mdm', '--name', 'jamf').status, 0)
  const twice = kagi('token', 'create', '--role', 'mdm', '--name', 'jamf')
  t.equal(twice.status, 1)
  t.match(twice.stderr, /already named "jamf".*--replace/)
  t.notMatch(twice.stdout, /kagi_/, 'no token printed')
  const replaced = kagi('token', 'create', '--role', 'mdm', '--name', 'jamf', '--replace')
  t.equal(replaced.status, 0, replaced.stderr)
  t.match(replaced.stderr, /revoked 1 live token named "jamf"/)
  const list = kagi('token', 'list').stdout.trim().split('\n')
  t.equal(list.filter((line) => / jamf /.test(line)).length, 2)
  t.equal(list.filter((line) => / jamf .*revoked/.test(line)).length, 1, 'one of them revoked')
  t.equal(kagi('token', 'revoke', 'jamf').stdout.trim(), 'revoked 1 token')
  t.equal(kagi('token', 'revoke', 'jamf').status, 1, 'none left')
})

t.test('ca import adopts an existing issuing CA', async (t) => {
  const { kagi, dataDir } = await installation(t)
  const f = (name: string) => join(dataDir, name)
  const ossl = (...args: string[]) => {
    const r = run('openssl', args)
    if (r.status !== 0) throw new Error(r.stderr)
  }
  writeFileSync(f('ext.cnf'), '[req]\ndistinguished_name=dn\n[dn]\n[root]\nbasicConstraints=critical,CA:TRUE,pathlen:1\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n[int]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n')
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('root.key'), '-out', f('root.pem'), '-subj', '/O=Acme/CN=Acme Root', '-days', '3650', '-config', f('ext.cnf'), '-extensions', 'root')
  ossl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('int.key'), '-out', f('int.csr'), '-subj', '/O=Acme/CN=Acme Devices')
  ossl('x509', '-req', '-in', f('int.csr'), '-CA', f('root.pem'), '-CAkey', f('root.key'), '-out', f('int.pem'), '-days', '1825', '-extfile', f('ext.cnf'), '-extensions', 'int')
  writeFileSync(f('bundle.pem'), readFileSync(f('int.pem'), 'utf8') + readFileSync(f('root.pem'), 'utf8'))

  const wrongKey = kagi('ca', 'import', '--cert', f('bundle.pem'), '--key', f('root.key'))
  t.equal(wrongKey.status, 1)
  t.match(wrongKey.stderr, /does not belong to the CA certificate/)
  const noRoot = kagi('ca', 'import', '--cert', f('int.pem'), '--key', f('int.key'))
  t.equal(noRoot.status, 1)
  t.match(noRoot.stderr, /no self-signed root/)
  const ok = kagi('ca', 'import', '--cert', f('bundle.pem'), '--key', f('int.key'))
  t.equal(ok.status, 0, ok.stderr)
  t.match(ok.stdout, /imported issuing CA: O=Acme, CN=Acme Devices/)
  const issued = kagi('issue', '--profile', 'user', '--user', 'bob@example.com', '--key-type', 'ecdsa-p256', '--out', f('bob'))
  t.equal(issued.status, 0, issued.stderr)
  const v = run('openssl', ['verify', '-x509_strict', '-CAfile', f('root.pem'), '-untrusted', f('int.pem'), f('bob.crt')])
  t.equal(v.status, 0, v.stdout + v.stderr)
})

t.test('serve: ready, answers, runs a CLI command given meanwhile, shuts down on SIGTERM', async (t) => {
  const { env, kagi } = await installation(t)
  const port = await freePort()
  const child = spawn(process.execPath, [bin, 'serve'], { env: { ...env, PORT: String(port), KAGI_KEY_POOL_SIZE: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout.on('data', (d) => (log += d))
  child.stderr.on('data', (d) => (log += d))
  t.teardown(() => child.kill('SIGKILL'))
  const started = Date.now()
  let ready = false
  for (let i = 0; i < 150 && !ready; i++) {
    await new Promise((r) => setTimeout(r, 100))
    ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)
  }
  t.ok(ready, `kagi serve became ready (${Date.now() - started} ms): ${log.slice(-500)}`)
  const root = await fetch(`http://127.0.0.1:${port}/pki/root.crt`)
  t.equal(root.headers.get('content-type'), 'application/pkix-cert')
  t.match(log, /kagi ready on/)
  t.notMatch(log, /cli-test-passphrase/, 'the passphrase is never logged')
  // On the embedded database the server runs it (over its socket, see cli-socket.test.ts); on PostgreSQL the CLI opens the database too.
  const second = kagi('token', 'create', '--role', 'admin', '--name', 'x')
  t.equal(second.status, 0, second.stderr)
  child.kill('SIGTERM')
  const [code] = await Promise.race([once(child, 'exit'), new Promise<[number]>((r) => setTimeout(() => r([-1]), 15_000))])
  t.equal(code, 0, 'clean exit on SIGTERM')
  if (!process.env.DATABASE_URL) {
    const after = kagi('token', 'create', '--role', 'admin', '--name', 'y')
    t.equal(after.status, 0, `the lock is released: ${after.stderr}`)
  }
})
