import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { commandExists, requireComponent, type Component } from '../support/components.js'
import { run, tempDir } from '../support/openssl.js'
import {
  certmongerEnroll,
  certmongerRejected,
  privateNetwork,
  privateNetworkComponent,
  ScepClientError,
  scepclientEnroll,
  scepComponents,
  strongswanEnroll,
  type Enrollment,
} from '../support/scep-clients.js'

// The SCEP client harness, validated against micromdm's scepserver (Debian `scep`) as a stand-in
// SCEP server. scepserver binds every interface, so it runs in a network namespace of its own,
// where only loopback exists, and the clients are run in there with it.

const scepserver: Component = { name: 'micromdm scepserver', available: commandExists('scepserver'), install: 'scep' }
/** Fixed ports are safe: nothing else lives in the namespace. */
const PORT = 8280
const RELABEL_PORT = 8281
const CHALLENGE = 's3cret'
const CA_PASS = 'capass'

/**
 * scepserver's depot. The CA is made here because `scepserver ca -init` leaves out the
 * digitalSignature key usage, without which certmonger rejects the CertRep signer
 * ("unsuitable certificate purpose"); the depot wants the key as legacy-encrypted PEM (DEK-Info).
 */
function makeDepot(dir: string): { depot: string; caPem: string } {
  const depot = join(dir, 'depot')
  mkdirSync(depot)
  const openssl = (...args: string[]): void => {
    const r = run('openssl', args)
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`)
  }
  const plainKey = join(dir, 'ca-plain.key')
  openssl('genrsa', '-out', plainKey, '2048')
  openssl('rsa', '-in', plainKey, '-traditional', '-des3', '-passout', `pass:${CA_PASS}`, '-out', join(depot, 'ca.key'))
  openssl('req', '-x509', '-new', '-key', plainKey, '-subj', '/O=stand-in/CN=Stand-in SCEP CA', '-days', '30', '-out', join(depot, 'ca.pem'),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign')
  return { depot, caPem: readFileSync(join(depot, 'ca.pem'), 'utf8') }
}

/**
 * A proxy for strongSwan only. micromdm labels its CertRep SignerInfo sha1WithRSAEncryption and
 * strongSwan 5.9.8 accepts only rsaEncryption ("only RSA digest encryption supported"). The label
 * lies outside the signed attributes and both name the same PKCS#1 v1.5 signature, so relabelling
 * it (the OIDs differ in their last byte) leaves strongSwan checking micromdm's own signature.
 */
const RELABEL_PROXY = `
import { createServer } from 'node:http'
const [port, upstream] = process.argv.slice(1)
const sha1WithRsa = Buffer.from('06092a864886f70d010105', 'hex')
const rsaEncryption = Buffer.from('06092a864886f70d010101', 'hex')
createServer(async (req, res) => {
  const chunks = []
  for await (const chunk of req) chunks.push(chunk)
  const body = req.method === 'POST' ? Buffer.concat(chunks) : undefined
  const reply = await fetch(upstream + req.url, { method: req.method, body, headers: { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' } })
  const type = reply.headers.get('content-type') ?? ''
  const out = Buffer.from(await reply.arrayBuffer())
  if (type === 'application/x-pki-message') for (let i = out.indexOf(sha1WithRsa); i >= 0; i = out.indexOf(sha1WithRsa, i)) rsaEncryption.copy(out, i)
  res.writeHead(reply.status, { 'content-type': type }).end(out)
}).listen(Number(port), '127.0.0.1')
`

t.test('the SCEP client harness enrolls with micromdm scepserver', async (t) => {
  if (!requireComponent(t, privateNetworkComponent) || !requireComponent(t, scepserver)) return
  const work = tempDir(t)
  const { depot, caPem } = makeDepot(work.dir)
  const caFile = join(depot, 'ca.pem')
  // Legacy OpenSSL inside: scepserver always encrypts its CertRep with single DES, which certmonger's OpenSSL 3 refuses by default.
  const network = await privateNetwork(t, { legacyOpenssl: true })
  const serverLog = join(work.dir, 'scepserver.log')
  network.start(['scepserver', '-depot', depot, '-port', String(PORT), '-capass', CA_PASS, '-challenge', CHALLENGE, '-allowrenew', '0'], work.dir, serverLog)
  await network.waitForPort(PORT)
  const url = `http://127.0.0.1:${PORT}/scep`
  const common = { url, network, dir: work.dir }

  const logTail = (): string => (existsSync(serverLog) ? readFileSync(serverLog, 'utf8').slice(-3_000) : '(no log)')
  /** The enrollment, or a failure that carries the client's output and scepserver's log. */
  const enrolled = async (t: Test, attempt: Promise<Enrollment>): Promise<Enrollment | undefined> => {
    try {
      return await attempt
    } catch (error) {
      t.fail(`${(error as Error).message}\n--- scepserver.log ---\n${logTail()}`)
      return undefined
    }
  }
  const refusal = (attempt: Promise<Enrollment>): Promise<ScepClientError | undefined> =>
    attempt.then(
      () => undefined,
      (error: unknown) => (error instanceof ScepClientError ? error : Promise.reject(error)),
    )
  const checkIssued = (t: Test, enrollment: Enrollment, subject: RegExp): void => {
    const certFile = work.file(`issued-${Date.now()}.pem`, enrollment.certPem)
    const verified = run('openssl', ['verify', '-CAfile', caFile, certFile])
    t.equal(verified.status, 0, 'openssl verify -CAfile <stand-in CA>', { output: verified.stdout + verified.stderr })
    t.match(run('openssl', ['x509', '-in', certFile, '-noout', '-subject', '-nameopt', 'RFC2253']).stdout, subject)
    t.match(enrollment.keyPem, /-----BEGIN (RSA )?PRIVATE KEY-----/)
  }

  await t.test('ok/scepclient', async (t) => {
    if (!requireComponent(t, scepComponents.scepclient)) return
    const enrollment = await enrolled(t, scepclientEnroll({ ...common, challenge: CHALLENGE, cn: 'dev-mm', organization: 'Example' }))
    if (enrollment) checkIssued(t, enrollment, /CN=dev-mm,OU=MDM,O=Example/)
  })

  await t.test('fail/scepclient-wrong-challenge', async (t) => {
    if (!requireComponent(t, scepComponents.scepclient)) return
    const error = await refusal(scepclientEnroll({ ...common, challenge: 'wrong', cn: 'dev-mm-2' }))
    t.ok(error, 'refused with a ScepClientError')
    t.match(error?.output, /PKCSReq \(19\) request failed, failInfo: badRequest \(2\)/)
    t.equal(error?.run.status, 1)
  })

  await t.test('ok/certmonger', async (t) => {
    if (!requireComponent(t, scepComponents.certmonger)) return
    const enrollment = await enrolled(t, certmongerEnroll({ ...common, caPem, challenge: CHALLENGE, subject: 'CN=dev-cm,O=Example', email: 'alice@example.com' }))
    if (enrollment) checkIssued(t, enrollment, /CN=dev-cm,O=Example/)
  })

  await t.test('fail/certmonger-wrong-challenge', async (t) => {
    if (!requireComponent(t, scepComponents.certmonger)) return
    const error = await refusal(certmongerEnroll({ ...common, caPem, challenge: 'wrong', subject: 'CN=dev-cm-2' }))
    t.ok(certmongerRejected(error), 'certmonger reports CA_REJECTED', { error: error?.message })
    t.match(error?.certmonger.caError, /not permitted or is not supported/)
  })

  await t.test('ok/strongswan-des3', async (t) => {
    if (!requireComponent(t, scepComponents.strongswan)) return
    network.start(['env', '-u', 'NODE_OPTIONS', process.execPath, '--input-type=module', '-e', RELABEL_PROXY, String(RELABEL_PORT), `http://127.0.0.1:${PORT}`], work.dir, join(work.dir, 'relabel.log'))
    await network.waitForPort(RELABEL_PORT)
    // des3: scepserver does not list SHA-384, and Debian's pki refuses AES without it (strongswan#1607).
    const attempt = strongswanEnroll({ ...common, url: `http://127.0.0.1:${RELABEL_PORT}/scep`, challenge: CHALLENGE, dn: 'CN=dev-sw, O=Example', san: 'dev-sw@example.test', cipher: 'des3' })
    const enrollment = await enrolled(t, attempt)
    if (enrollment) checkIssued(t, enrollment, /CN=dev-sw,O=Example/)
  })
})
