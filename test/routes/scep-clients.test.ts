import 'reflect-metadata'
import { createHash } from 'node:crypto'
import t, { type Test } from 'tap'
import { requireComponent } from '../support/components.js'
import { build } from '../helper.js'
import { run, tempDir } from '../support/openssl.js'
import { certmongerEnroll, certmongerRejected, ScepClientError, scepclientEnroll, scepComponents, strongswanEnroll, type Enrollment } from '../support/scep-clients.js'

// Three real SCEP clients enroll at kagi's /scep over loopback. Each asks with a CSR subject of
// its own choosing (CN=evil); kagi must issue for the identity its challenge was made for.

t.test('real SCEP clients enroll at /scep with one-time challenges', async (t) => {
  // scepclient sends single DES whatever the server advertises.
  const { app, as, services } = await build(t, { env: { KAGI_SCEP_ALLOW_DES: 'true' } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/scep`
  const work = tempDir(t)
  const chainFile = work.file('chain.pem', services.chainPem)
  // scepclient encrypts to every GetCACert certificate unless told which; kagi's CAs are ECDSA, its SCEP (RA) certificate RSA.
  const caFingerprint = createHash('sha256').update((await services.scepRa.get()).certificate).digest('hex')

  const challenge = async (body: object): Promise<string> => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/scep/challenges', headers: as.mdm, payload: body })
    if (res.statusCode !== 201) throw new Error(`POST /api/v1/scep/challenges: ${res.statusCode} ${res.body}`)
    return res.json().challenge as string
  }
  const userChallenge = (user: string): Promise<string> => challenge({ user, profile: 'user' })
  const deviceChallenge = (name: string, hostname: string): Promise<string> =>
    challenge({ user: 'alice@example.com', device: { name, platform: 'macos', hostname }, profile: 'device' })

  /** Subject and SANs of an issued certificate, after `openssl verify` against kagi's issuing + root CA. */
  const verified = (t: Test, enrollment: Enrollment): string => {
    const certFile = work.file(`issued-${Date.now()}.pem`, enrollment.certPem)
    const check = run('openssl', ['verify', '-CAfile', chainFile, certFile])
    t.equal(check.status, 0, 'openssl verify -CAfile <kagi root + issuing>', { output: check.stdout + check.stderr })
    return run('openssl', ['x509', '-in', certFile, '-noout', '-subject', '-ext', 'subjectAltName', '-nameopt', 'RFC2253']).stdout
  }

  /** The error a refused enrollment throws (anything else fails the test). */
  const refusal = (attempt: Promise<Enrollment>): Promise<ScepClientError | undefined> =>
    attempt.then(
      () => undefined,
      (error: unknown) => (error instanceof ScepClientError ? error : Promise.reject(error)),
    )

  let spent: string | undefined
  let spentByCertmonger: string | undefined

  await t.test('ok/scepclient-user', async (t) => {
    if (!requireComponent(t, scepComponents.scepclient)) return
    spent = await userChallenge('alice@example.com')
    const names = verified(t, await scepclientEnroll({ url, challenge: spent, cn: 'evil', organization: 'Evil', caFingerprint }))
    t.match(names, /subject=CN=alice@example\.com/)
    t.match(names, /email:alice@example\.com/)
    t.notMatch(names, /evil/i, 'nothing from the CSR subject')
  })

  await t.test('fail/scepclient-spent-challenge', async (t) => {
    if (!requireComponent(t, scepComponents.scepclient)) return
    if (!spent) return t.fail('needs the challenge ok/scepclient-user spent')
    const error = await refusal(scepclientEnroll({ url, challenge: spent, cn: 'evil', caFingerprint }))
    t.ok(error, 'a spent challenge is refused')
    t.match(error?.output, /PKCSReq \(19\) request failed, failInfo: badRequest \(2\)/)
  })

  await t.test('ok/certmonger-device', async (t) => {
    if (!requireComponent(t, scepComponents.certmonger)) return
    spentByCertmonger = await deviceChallenge('Alice MacBook', 'mac-cm.example.com')
    const enrollment = await certmongerEnroll({
      url,
      caPem: services.chainPem,
      challenge: spentByCertmonger,
      subject: 'CN=evil,O=Evil',
      email: 'evil@example.com',
    })
    const names = verified(t, enrollment)
    t.match(names, /subject=CN=mac-cm\.example\.com/)
    t.match(names, /DNS:mac-cm\.example\.com/)
    t.notMatch(names, /evil/i, 'nothing from the CSR subject or SAN')
  })

  await t.test('fail/certmonger-spent-challenge', async (t) => {
    if (!requireComponent(t, scepComponents.certmonger)) return
    if (!spentByCertmonger) return t.fail('needs the challenge ok/certmonger-device spent')
    const error = await refusal(certmongerEnroll({ url, caPem: services.chainPem, challenge: spentByCertmonger, subject: 'CN=evil' }))
    t.ok(certmongerRejected(error), 'certmonger reports CA_REJECTED', { error: error?.message })
  })

  await t.test('ok/strongswan-user-aes', async (t) => {
    if (!requireComponent(t, scepComponents.strongswan)) return
    const enrollment = await strongswanEnroll({ url, challenge: await userChallenge('bob@example.com'), dn: 'CN=evil, O=Evil', san: 'evil@example.com', cipher: 'aes' })
    const names = verified(t, enrollment)
    t.match(names, /subject=CN=bob@example\.com/)
    t.match(names, /email:bob@example\.com/)
    t.notMatch(names, /evil/i, 'nothing from the CSR subject or SAN')
  })
})
