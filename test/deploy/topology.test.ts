// docker-compose.yml's topology without Docker (no engine runs where the tests do): one PostgreSQL,
// two `kagi serve` processes with NODE_ENV=production, SimpleSAMLphp from deploy/simplesamlphp/, and
// nginx on loopback terminating TLS with deploy/nginx/'s locations, proxy and TLS settings.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import pg from 'pg'
import t from 'tap'
import { freshPostgresUrl } from '../helper.js'
import { commandExists, requireComponent } from '../support/components.js'
import { freePort } from '../support/free-port.js'
import { idpAvailable, IDP_INSTALL_HINT, SIMPLESAMLPHP_WWW } from '../support/idp.js'
import { runKagi, startKagi } from '../support/kagi-process.js'
import { run, tempDir } from '../support/openssl.js'

const repo = join(import.meta.dirname, '..', '..')
const WAIT_MS = 30_000

interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** One HTTPS request trusting only `ca`, optionally from another loopback address (to tell the client from nginx). */
function https(url: string, ca: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer; localAddress?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, method: init.method ?? 'GET', headers: init.headers, localAddress: init.localAddress, timeout: WAIT_MS }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${WAIT_MS} ms`)))
    req.on('error', reject)
    req.end(init.body)
  })
}

/** Polls `check` every 100 ms until it is true; false after `ms`. */
async function until(check: () => Promise<boolean>, ms = WAIT_MS): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    if (await check().catch(() => false)) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  return false
}

/** A child in its own process group (php -S has workers), killed with the group at teardown. */
function spawnGroup(tt: Pick<typeof t, 'teardown'>, argv: string[], env: NodeJS.ProcessEnv, cwd: string): { child: ChildProcess; log: () => string } {
  // `timeout` bounds an orphan's life should this test process die without its teardown.
  const child = spawn('timeout', ['--kill-after=5', '600', ...argv], { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout!.on('data', (d) => (log = (log + d).slice(-20_000)))
  child.stderr!.on('data', (d) => (log = (log + d).slice(-20_000)))
  tt.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    try {
      process.kill(-child.pid!, 'SIGTERM')
    } catch {
      return
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))])
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL')
  })
  return { child, log: () => log }
}

const onPglite = !process.env.DATABASE_URL && 'the topology needs PostgreSQL (two replicas cannot share the embedded database); it runs on the PostgreSQL pass (DATABASE_URL)'

t.test('two production replicas behind nginx with TLS, on one PostgreSQL', { skip: onPglite }, async (t) => {
  if (!requireComponent(t, { name: 'nginx', available: commandExists('nginx') || commandExists('/usr/sbin/nginx'), install: 'nginx' })) return
  if (!requireComponent(t, { name: 'SimpleSAMLphp IdP (simplesamlphp + php-cli + php-xml)', available: idpAvailable(), install: IDP_INSTALL_HINT })) return
  const nginxBin = commandExists('nginx') ? 'nginx' : '/usr/sbin/nginx'
  const dir = tempDir(t).dir
  const databaseUrl = await freshPostgresUrl(t)
  const [proxyPort, idpPort, portA, portB] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const publicUrl = `https://localhost:${proxyPort}`

  // The proxy's certificate, for both names of loopback; the client trusts it and nothing else.
  const tlsKey = join(dir, 'tls.key')
  const tlsCrt = join(dir, 'tls.crt')
  const tls = run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', tlsKey, '-out', tlsCrt])
  t.equal(tls.status, 0, tls.stderr)
  const ca = readFileSync(tlsCrt, 'utf8')

  // The IdP as deploy/simplesamlphp/Dockerfile runs it: the shipped config, the environment compose gives it.
  const idpState = join(dir, 'idp')
  for (const sub of ['cert', 'log', 'data', 'tmp', 'sessions']) mkdirSync(join(idpState, sub), { recursive: true })
  const idpKey = join(dir, 'idp.key')
  const idpCrt = join(dir, 'idp.crt')
  t.equal(run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-sha256', '-nodes', '-days', '2', '-subj', '/CN=kagi trial IdP', '-keyout', idpKey, '-out', idpCrt]).status, 0)
  const idpBase = `http://127.0.0.1:${idpPort}/`
  const idp = spawnGroup(t, ['php', '-S', `127.0.0.1:${idpPort}`, '-t', SIMPLESAMLPHP_WWW], {
    PATH: process.env.PATH,
    SIMPLESAMLPHP_CONFIG_DIR: join(repo, 'deploy/simplesamlphp/config'),
    IDP_STATE_DIR: idpState,
    IDP_BASE_URL: idpBase,
    IDP_KEY_FILE: idpKey,
    IDP_CERT_FILE: idpCrt,
    KAGI_PUBLIC_URL: publicUrl,
    PHP_CLI_SERVER_WORKERS: '2',
  }, idpState)
  const metadataUrl = `${idpBase}saml2/idp/metadata.php`
  t.ok(await until(async () => (await fetch(metadataUrl)).ok), `the IdP answers ${metadataUrl}\n${idp.log()}`)

  // The secrets as the README makes them; the CLI runs with the servers' environment.
  const passphraseFile = join(dir, 'ca-passphrase')
  const generated = runKagi({ PATH: process.env.PATH!, HOME: dir }, ['secret', 'generate', '--out', passphraseFile])
  t.equal(generated.status, 0, generated.stderr)
  const env = (port: number, name: string): Record<string, string> => {
    const dataDir = join(dir, `data-${name}`)
    mkdirSync(dataDir, { mode: 0o700 })
    return {
      PATH: process.env.PATH!,
      HOME: dir,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      KAGI_PUBLIC_URL: publicUrl,
      DATABASE_URL: databaseUrl,
      KAGI_DATA_DIR: dataDir,
      KAGI_CA_PASSPHRASE_FILE: passphraseFile,
      // nginx connects from 127.0.0.1; compose names its fixed address instead.
      KAGI_TRUST_PROXY: 'loopback',
      KAGI_SAML_ENTRY_POINT: `${idpBase}saml2/idp/SSOService.php`,
      KAGI_SAML_IDP_CERT: idpCrt,
      KAGI_SAML_IDP_ISSUER: metadataUrl,
      KAGI_SAML_ADMIN_GROUPS: 'VPN Admins',
      KAGI_METRICS_TOKEN: 'topology-metrics-token-0123456789',
      KAGI_LOG_LEVEL: 'warn',
    }
  }
  const envA = env(portA, 'a')
  // Both at once on the empty database, as `docker compose up` starts them: one CA must come out.
  const [a, b] = await Promise.all([startKagi(t, envA, { readyTimeoutMs: 90_000 }), startKagi(t, env(portB, 'b'), { readyTimeoutMs: 90_000 })])
  const direct = async (port: number, path: string): Promise<string> => (await fetch(`http://127.0.0.1:${port}${path}`)).text()
  t.equal(await direct(portA, '/pki/chain.pem'), await direct(portB, '/pki/chain.pem'), 'both replicas serve the same CA')
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  // Replaced CAs stay in the table (inactive): one row per role means a second CA was never made.
  const cas = await db.query<{ role: string; n: number }>('select role, count(*)::int as n from ca_certificate group by role order by role')
  t.same(cas.rows, [{ role: 'issuing', n: 1 }, { role: 'root', n: 1 }], 'one root and one issuing CA, created by one of the two replicas')

  // nginx in its own prefix, in the foreground, with the shipped includes under conf/kagi/ as in the image.
  const prefix = join(dir, 'nginx')
  for (const sub of ['conf', 'logs', 'tmp']) mkdirSync(join(prefix, sub), { recursive: true })
  symlinkSync(join(repo, 'deploy/nginx'), join(prefix, 'conf', 'kagi'))
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${join(prefix, 'tmp', k)};`).join('\n')
  writeFileSync(
    join(prefix, 'conf', 'nginx.conf'),
    `daemon off;
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 64; }
http {
  access_log off;
${temp}
  upstream kagi {
    server 127.0.0.1:${portA};
    server 127.0.0.1:${portB};
    keepalive 4;
  }
  server {
    listen 127.0.0.1:${proxyPort} ssl;
    ssl_certificate ${tlsCrt};
    ssl_certificate_key ${tlsKey};
    include kagi/kagi-tls.conf;
    include kagi/kagi-locations.conf;
  }
}
`,
  )
  const nginx = spawnGroup(t, [nginxBin, '-p', `${prefix}/`, '-c', join(prefix, 'conf', 'nginx.conf'), '-e', 'stderr'], { PATH: process.env.PATH }, prefix)
  const proxied = (path: string, init?: Parameters<typeof https>[2]): Promise<Reply> => https(`${publicUrl}${path}`, ca, init)
  t.ok(await until(async () => (await proxied('/readyz')).status === 200), `nginx answers over TLS\n${nginx.log()}`)

  t.test('ok/readyz and the CA chain over TLS through the proxy', async (t) => {
    const ready = await proxied('/readyz')
    t.same(JSON.parse(ready.body.toString()), { status: 'ready' })
    t.match(String(ready.headers['strict-transport-security']), /max-age=/, 'HSTS from kagi-tls.conf')
    const chain = (await proxied('/pki/chain.pem')).body.toString()
    const [issuing, root] = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g)!.map((pem) => new X509Certificate(pem))
    t.ok(issuing!.verify(root!.publicKey), 'the issuing CA is signed by the root')
    t.ok(root!.verify(root!.publicKey), 'the root is self-signed')
    t.match(issuing!.infoAccess ?? '', new RegExp(`OCSP - URI:${publicUrl}/ocsp`), 'the CA names the public URL behind nginx')
    t.equal((await proxied('/metrics')).status, 404, 'metrics are not served on the public listener')
  })

  t.test('ok/issue on the API, revoke, OCSP says revoked on both replicas; the audit keeps the client address', async (t) => {
    const created = runKagi(envA, ['token', 'create', '--role', 'admin', '--name', 'topology'])
    t.equal(created.status, 0, created.stderr)
    const token = created.stdout.trim().split('\n').at(-1)!
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const keyFile = join(dir, 'leaf.key')
    const csr = run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-subj', '/CN=ignored'])
    t.equal(csr.status, 0, csr.stderr)
    const issued = await proxied('/api/v1/certificates', { method: 'POST', headers: auth, body: JSON.stringify({ profile: 'user', user: 'alice@example.com', csr: csr.stdout }) })
    t.equal(issued.status, 201, issued.body.toString())
    const { serial, certificate } = JSON.parse(issued.body.toString()) as { serial: string; certificate: string }
    const leafFile = join(dir, 'leaf.pem')
    writeFileSync(leafFile, certificate)
    const chain = (await proxied('/pki/chain.pem')).body.toString()
    const [issuingPem, rootPem] = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g)!
    const issuingFile = join(dir, 'issuing.pem')
    const rootFile = join(dir, 'root.pem')
    writeFileSync(issuingFile, issuingPem!)
    writeFileSync(rootFile, rootPem!)

    // From 127.0.0.2, with an X-Forwarded-For of its own: nginx replaces it, kagi believes nginx.
    const revoked = await proxied(`/api/v1/certificates/${serial}/revoke`, { method: 'POST', headers: { ...auth, 'x-forwarded-for': '203.0.113.9' }, body: JSON.stringify({ reason: 'keyCompromise' }), localAddress: '127.0.0.2' })
    t.equal(revoked.status, 200, revoked.body.toString())
    const audit = await db.query<{ client_ip: string }>("select client_ip from audit_event where action = 'certificate.revoked' and serial = $1", [serial])
    t.same(audit.rows, [{ client_ip: '127.0.0.2' }], "kagi records the client's address, not nginx's (127.0.0.1) nor the forged one")

    const reqFile = join(dir, 'ocsp-req.der')
    t.equal(run('openssl', ['ocsp', '-issuer', issuingFile, '-cert', leafFile, '-no_nonce', '-reqout', reqFile]).status, 0)
    const body = readFileSync(reqFile)
    // Round robin: two requests through nginx reach both replicas; each replica is asked directly too.
    const answers: [string, Buffer][] = []
    for (const attempt of [1, 2]) {
      const r = await proxied('/ocsp', { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body })
      t.equal(r.status, 200)
      answers.push([`through nginx (${attempt})`, r.body])
    }
    for (const port of [portA, portB]) {
      const r = await fetch(`http://127.0.0.1:${port}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body })
      answers.push([`replica on ${port}`, Buffer.from(await r.arrayBuffer())])
    }
    for (const [where, der] of answers) {
      const respFile = join(dir, 'ocsp-resp.der')
      writeFileSync(respFile, der)
      const check = run('openssl', ['ocsp', '-respin', respFile, '-issuer', issuingFile, '-cert', leafFile, '-CAfile', rootFile, '-verify_other', issuingFile, '-no_nonce'])
      t.match(check.stdout + check.stderr, /Response verify OK/, `${where}: signed by kagi's responder`)
      t.match(check.stdout, /: revoked/, `${where}: revoked`)
    }
  })

  t.test('ok/sign-in goes to the trial IdP named in the configuration', async (t) => {
    const login = await proxied('/auth/saml/login')
    t.equal(login.status, 302)
    t.match(String(login.headers.location), new RegExp(`^${idpBase}saml2/idp/SSOService\\.php\\?SAMLRequest=`))
    t.match(String(login.headers['set-cookie']), /kagi_saml_request=.*Secure/i, 'the pre-login cookie is Secure: kagi knows it is behind https')
  })

  t.test('ok/the compose health check command passes against a replica', async (t) => {
    const compose = readFileSync(join(repo, 'docker-compose.yml'), 'utf8')
    const script = /"node", "-e", "(fetch\('http:\/\/127\.0\.0\.1:' [^"]*)"\]/.exec(compose)?.[1]
    t.ok(script, 'the kagi health check in docker-compose.yml')
    const r = spawnSync(process.execPath, ['-e', script!], { env: { PORT: String(portB) }, timeout: WAIT_MS })
    t.equal(r.status, 0, 'healthy: /readyz answers 200')
    await b.stop()
    const down = spawnSync(process.execPath, ['-e', script!], { env: { PORT: String(portB) }, timeout: WAIT_MS })
    t.equal(down.status, 1, 'unhealthy once the replica is gone')
    t.equal((await proxied('/readyz')).status, 200, 'nginx serves from the other replica meanwhile')
    t.equal((await proxied('/readyz')).status, 200)
  })
  t.ok(a.child.exitCode === null, 'replica a kept running')
})
