import { readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import t from 'tap'
import { build } from '../helper.js'
import { foreignCertificate, issueThroughApi, runWithInput } from '../support/check-clients.js'
import { commandExists, requireComponent } from '../support/components.js'
import { freePort } from '../support/free-port.js'
import { run, tempDir } from '../support/openssl.js'
import { decryptPrivateKeyAsync } from '../../ca/index.js'
import { startCheckListener } from '../../src/startup/check-listener.js'
import { checkListenerCredential, ServiceCredential } from '../../src/use-cases/service-credentials.js'

// Real TLS clients against the check listener: curl and openssl s_client present a kagi certificate
// (ready), a revoked one, a superseded one, a foreign CA's, and none, and each gets its page. The
// listener's own certificate chains to kagi's root for KAGI_CHECK_HOSTNAME (openssl verify and
// s_client -verify_hostname), is renewed by the service-credential mechanism and served on the next
// handshake (setSecureContext).

const HOSTNAME = 'check.kagi.test'

t.test('the check listener answers real TLS clients by the certificate they present', async (t) => {
  if (!requireComponent(t, { name: 'curl', available: commandExists('curl'), install: 'curl' })) return
  if (!requireComponent(t, { name: 'openssl', available: commandExists('openssl'), install: 'openssl' })) return
  const port = await freePort()
  let now = new Date()
  const { app, as, services } = await build(t, { env: { KAGI_CHECK_LISTEN: `127.0.0.1:${port}`, KAGI_CHECK_HOSTNAME: HOSTNAME }, clock: () => now })
  const listener = await startCheckListener(services)
  t.ok(listener, 'the listener starts when KAGI_CHECK_LISTEN is set')
  t.teardown(() => listener?.close())
  t.equal(listener!.url, `https://${HOSTNAME}:${port}/check`)

  const dir = tempDir(t)
  const [issuingPem, rootPem] = services.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g)!
  const rootFile = dir.file('root.pem', rootPem!)
  const issuingFile = dir.file('issuing.pem', issuingPem!)

  const alice = await issueThroughApi(app, as.admin, dir.dir, 'alice', { profile: 'user', user: 'alice@example.com', device: { name: 'Alice MacBook', platform: 'macos' } })
  const bob = await issueThroughApi(app, as.admin, dir.dir, 'bob', { profile: 'user', user: 'bob@example.com', device: { name: 'Bob phone', platform: 'android' } })
  const revoke = await app.inject({ method: 'POST', url: `/api/v1/certificates/${bob.serial}/revoke`, headers: as.admin, payload: { reason: 'keyCompromise' } })
  t.equal(revoke.statusCode, 200, revoke.body)
  const carolOld = await issueThroughApi(app, as.admin, dir.dir, 'carol-old', { profile: 'user', user: 'carol@example.com', device: { name: 'Carol PC', platform: 'windows' } })
  const carolNew = await issueThroughApi(app, as.admin, dir.dir, 'carol-new', { profile: 'user', user: 'carol@example.com', device: { name: 'Carol PC', platform: 'windows' } })
  t.not(carolOld.serial, carolNew.serial)
  const foreign = foreignCertificate(dir.dir)

  const macUa = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15'
  /** curl with real certificate verification against kagi's root and the host name. */
  const curl = (cert?: { certPath: string; keyPath: string }, lang = 'en') =>
    runWithInput('curl', [
      '-sS', '--max-time', '20', '--cacert', rootFile, '--resolve', `${HOSTNAME}:${port}:127.0.0.1`,
      '-H', `Accept-Language: ${lang}`, '-A', macUa, '-w', '\n%{http_code}',
      ...(cert ? ['--cert', cert.certPath, '--key', cert.keyPath] : []),
      `https://${HOSTNAME}:${port}/check`,
    ])

  await t.test('curl --cert/--key with a valid kagi certificate: this device is ready', async (t) => {
    const r = await curl(alice)
    t.equal(r.status, 0, r.stderr)
    t.match(r.stdout, /\n200$/)
    t.match(r.stdout, /This device is ready/)
    t.match(r.stdout, /alice@example\.com/)
    t.match(r.stdout, /Alice MacBook \(macOS\)/)
    t.match(r.stdout, /User certificate/)
    t.match(r.stdout, /and this browser runs on macOS: they match/)
    t.match(r.stdout, new RegExp(alice.serial))
    const ja = await curl(alice, 'ja')
    t.match(ja.stdout, /このデバイスは準備ができています/)
  })

  await t.test('curl with a revoked certificate: revoked, what to do', async (t) => {
    const r = await curl(bob)
    t.equal(r.status, 0, r.stderr)
    t.match(r.stdout, /This certificate has been revoked/)
    t.match(r.stdout, /Download again/)
    t.match(r.stdout, /issued for a device running Android, but this browser runs on macOS/)
  })

  await t.test('curl with a superseded certificate: replaced by a newer one', async (t) => {
    const r = await curl(carolOld)
    t.match(r.stdout, /This certificate has been replaced by a newer one/)
    t.match((await curl(carolNew)).stdout, /This device is ready/)
  })

  await t.test('curl with another CA’s certificate: from someone else', async (t) => {
    const r = await curl(foreign)
    t.equal(r.status, 0, r.stderr)
    t.match(r.stdout, /This browser sent a certificate from someone else/)
    t.match(r.stdout, /Other Corp CA/)
  })

  await t.test('curl without a certificate: none, with where to look on this platform', async (t) => {
    const r = await curl()
    t.equal(r.status, 0, r.stderr)
    t.match(r.stdout, /This browser did not send a certificate/)
    t.match(r.stdout, /Keychain Access/)
    t.match(r.stdout, /System keychain/)
    const ja = await curl(undefined, 'ja')
    t.match(ja.stdout, /このブラウザーは証明書を送りませんでした/)
  })

  /** openssl s_client with -verify_hostname and -verify_return_error: a wrong server certificate fails the handshake. */
  const sClient = (cert?: { certPath: string; keyPath: string }, extra: string[] = []) =>
    runWithInput(
      'openssl',
      [
        's_client', '-connect', `127.0.0.1:${port}`, '-servername', HOSTNAME, '-CAfile', rootFile, '-verify_hostname', HOSTNAME, '-verify_return_error', '-ign_eof',
        ...(cert ? ['-cert', cert.certPath, '-key', cert.keyPath] : []),
        ...extra,
      ],
      `GET /check HTTP/1.1\r\nHost: ${HOSTNAME}:${port}\r\nAccept-Language: en\r\nConnection: close\r\n\r\n`,
    )

  await t.test('openssl s_client -cert: each certificate gets its page', async (t) => {
    const ready = await sClient(alice)
    t.equal(ready.status, 0, ready.stderr)
    t.match(ready.stdout, /Verify return code: 0 \(ok\)/, 'the server certificate verifies against kagi’s root for the host name')
    t.match(ready.stdout, /This device is ready/)
    // The CertificateRequest names kagi's CAs (RFC 8446 §4.2.4), so browsers offer only kagi's certificates.
    t.match(ready.stdout, /Acceptable client certificate CA names[\s\S]*Issuing CA[\s\S]*Root CA/)
    t.match((await sClient(bob)).stdout, /This certificate has been revoked/)
    t.match((await sClient(foreign)).stdout, /from someone else/)
    t.match((await sClient()).stdout, /did not send a certificate/)
  })

  await t.test('s_client -verify_hostname refuses another name: the certificate is for KAGI_CHECK_HOSTNAME only', async (t) => {
    const r = await runWithInput('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'other.kagi.test', '-CAfile', rootFile, '-verify_hostname', 'other.kagi.test', '-verify_return_error'], '')
    t.not(r.status, 0)
    t.match(r.stdout + r.stderr, /hostname mismatch/)
  })

  const serverCertificate = async () => {
    const r = await runWithInput('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', HOSTNAME, '-showcerts'], '')
    const pems = r.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g) ?? []
    return pems
  }

  await t.test('openssl verify: the listener’s certificate is a tls-server certificate of kagi’s CA', async (t) => {
    const pems = await serverCertificate()
    t.equal(pems.length, 2, 'the leaf and the issuing CA are sent')
    t.equal(pems[1], issuingPem, 'the chain is kagi’s issuing CA')
    const leafFile = dir.file('server.pem', pems[0]!)
    const v = run('openssl', ['verify', '-x509_strict', '-purpose', 'sslserver', '-verify_hostname', HOSTNAME, '-CAfile', rootFile, '-untrusted', issuingFile, leafFile])
    t.equal(v.status, 0, v.stdout + v.stderr)
    const leaf = new X509Certificate(readFileSync(leafFile))
    t.equal(leaf.subjectAltName, `DNS:${HOSTNAME}`)
    t.match(leaf.keyUsage ?? [], ['1.3.6.1.5.5.7.3.1'], 'serverAuth')
    const days = (new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()) / 86_400_000
    t.ok(days <= 31, `short validity (${days.toFixed(1)} days)`)
    const stored = await services.db.selectFrom('service_credential').select(['serial', 'encrypted_key']).where('purpose', '=', 'check-listener').execute()
    t.equal(stored.length, 1, 'stored as a service credential')
    t.equal(stored[0]!.serial, leaf.serialNumber.toLowerCase().replace(/^(00)+/, ''))
    t.match(stored[0]!.encrypted_key, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/, 'the key is stored encrypted')
    t.notMatch(stored[0]!.encrypted_key, /BEGIN PRIVATE KEY/)
    const key = await decryptPrivateKeyAsync(stored[0]!.encrypted_key, services.config.caPassphrase!)
    t.ok(leaf.checkPrivateKey(key), 'the stored key, decrypted with the CA passphrase, is the certificate’s')
  })

  await t.test('renewal: 21 days later a new certificate is served to new handshakes', async (t) => {
    const before = new X509Certificate((await serverCertificate())[0]!)
    t.equal(await listener!.renew(), false, 'nothing to renew yet')
    now = new Date(now.getTime() + 21 * 86_400_000)
    t.equal(await listener!.renew(), true, 'renewed within 10 days of expiry')
    const after = new X509Certificate((await serverCertificate())[0]!)
    t.not(after.serialNumber, before.serialNumber, 'the new certificate is served')
    t.ok(new Date(after.validTo) > new Date(before.validTo))
    const audit = await services.db.selectFrom('audit_event').select('action').where('action', '=', 'check-listener.issued').execute()
    t.equal(audit.length, 2, 'each issuance is audited')
  })
})

t.test('no listener without KAGI_CHECK_LISTEN', async (t) => {
  const { services } = await build(t)
  t.equal(await startCheckListener(services), undefined)
  t.equal(services.checkListenerTls, undefined)
})

t.test('a changed KAGI_CHECK_HOSTNAME gets a new certificate, not the stored one for the old name', async (t) => {
  const { services } = await build(t, { env: { KAGI_CHECK_LISTEN: '127.0.0.1:8443', KAGI_CHECK_HOSTNAME: HOSTNAME } })
  const first = await services.checkListenerTls!.get()
  t.equal(new X509Certificate(first.certificate).subjectAltName, `DNS:${HOSTNAME}`)
  const deps = { authority: services.authority, passphrase: services.config.caPassphrase!, chain: services.chainDer, log: { info: () => {}, warn: () => {}, error: () => {} } }
  const renamed = await new ServiceCredential(services.db, checkListenerCredential('check2.kagi.test'), deps).get()
  t.equal(new X509Certificate(renamed.certificate).subjectAltName, 'DNS:check2.kagi.test')
  const again = await new ServiceCredential(services.db, checkListenerCredential('check2.kagi.test'), deps).get()
  t.ok(again.certificate.equals(renamed.certificate), 'the stored certificate is reused for the same name (another process or replica)')
})
