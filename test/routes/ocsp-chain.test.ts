import 'reflect-metadata'
import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { serialToHex } from '../../ca/index.js'
import { OcspService } from '../../src/revocation/ocsp-service.js'
import { ocspResponderCredential, ServiceCredential } from '../../src/use-cases/service-credentials.js'
import { build } from '../helper.js'
import { commandExists, requireComponent } from '../support/components.js'
import { opensslCsr, run, runAsync, tempDir } from '../support/openssl.js'
import { freePort } from '../support/free-port.js'

/**
 * OCSP for every certificate of the chain (issue 11): the issuing CA's
 * certificate names kagi's responder in its AIA, so strict clients ask kagi
 * about the issuing CA itself (issuer = root). Those answers are signed by a
 * responder the root delegated (RFC 6960 §4.2.2.2), created on first need.
 */

/** A free loopback port: kagi's URL is written into the CA at creation, so it must be known first. */
/** kagi listening on 127.0.0.1 under its own public URL, two leaves (one revoked), and the CA files. */
async function chainSetup(t: Test, options: { clock?: () => Date } = {}) {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const kagi = await build(t, { env: { KAGI_PUBLIC_URL: url }, clock: options.clock })
  await kagi.app.listen({ port, host: '127.0.0.1' })
  const dir = tempDir(t)
  const csr = opensslCsr(dir.dir, 'ec:P-256')
  const issue = async (user: string) => {
    const res = await kagi.app.inject({ method: 'POST', url: '/api/v1/certificates', headers: kagi.as.admin, payload: { profile: 'user', user, csr } })
    return { serial: res.json().serial as string, file: dir.file(`${user}.pem`, res.json().certificate) }
  }
  const good = await issue('good@example.com')
  const lost = await issue('lost@example.com')
  const revoke = await kagi.app.inject({ method: 'POST', url: `/api/v1/certificates/${lost.serial}/revoke`, headers: kagi.as.admin, payload: { reason: 'keyCompromise' } })
  t.equal(revoke.statusCode, 200)
  const [issuingPem, rootPem] = kagi.services.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g)!
  return { ...kagi, url, dir, good, lost, issuing: dir.file('issuing.pem', issuingPem!), root: dir.file('root.pem', rootPem!) }
}

const rootResponderRows = (s: Awaited<ReturnType<typeof chainSetup>>) =>
  s.database.db.selectFrom('service_credential').select(['serial', 'ca_serial', 'not_after']).where('purpose', '=', 'root-ocsp-responder').orderBy('not_after').execute()

t.test('the issuing CA\'s own status, with the real openssl client', async (t) => {
  const s = await chainSetup(t)
  const ocsp = async (...args: string[]) => {
    const r = await runAsync('openssl', ['ocsp', '-issuer', s.root, '-CAfile', s.root, '-url', `${s.url}/ocsp`, '-resp_text', ...args])
    return { status: r.status, text: r.stdout + r.stderr }
  }
  t.same(await rootResponderRows(s), [], 'no root responder before anyone asks about the issuing CA (created on first need)')
  const leafReq = `${s.dir.dir}/leaf-req.der`
  t.equal(run('openssl', ['ocsp', '-issuer', s.issuing, '-cert', s.good.file, '-no_nonce', '-reqout', leafReq]).status, 0)
  const cachedLeaf = (await s.services.ocsp.answer(readFileSync(leafReq))).der

  await t.test('ok/issuing-ca-good', async (t) => {
    for (const flag of ['-nonce', '-no_nonce']) {
      const r = await ocsp(flag, '-cert', s.issuing)
      t.equal(r.status, 0, `${flag}: openssl ocsp exit status`)
      t.match(r.text, /Response verify OK/, `${flag}: verifies against the root alone`)
      t.match(r.text, /issuing\.pem: good/)
      t.match(r.text, /OCSP Signing/)
      t.match(r.text, /OCSP No Check/)
      t.match(r.text, /Issuer: O\s*=\s*kagi, CN\s*=\s*kagi Root CA/, 'the responder certificate was issued by the root')
    }
    const rows = await rootResponderRows(s)
    t.equal(rows.length, 1, 'one root responder credential, stored')
    t.equal(rows[0]!.ca_serial, serialToHex(s.services.ca.root.serial), 'under the root\'s serial')
    t.same((await s.services.ocsp.answer(readFileSync(leafReq))).der, cachedLeaf, 'loading the root responder kept the cached leaf answers')
  })

  await t.test('ok/unknown-serial-under-root', async (t) => {
    const r = await ocsp('-nonce', '-serial', '0x4abcdef0123456789abcdef012345678')
    t.match(r.text, /Response verify OK/)
    t.match(r.text, /0x4ABCDEF0123456789ABCDEF012345678: unknown/i, 'the root issued nothing else: unknown, never good')
    const leafUnderRoot = await ocsp('-nonce', '-serial', `0x${s.good.serial}`)
    t.match(leafUnderRoot.text, /: unknown/i, 'a leaf serial named under the wrong issuer is not good')
  })

  await t.test('ok/get-as-nss-sends-it', async (t) => {
    const reqFile = `${s.dir.dir}/root-req.der`
    t.equal(run('openssl', ['ocsp', '-issuer', s.root, '-cert', s.issuing, '-no_nonce', '-reqout', reqFile]).status, 0)
    const res = await fetch(`${s.url}/ocsp/${encodeURIComponent(readFileSync(reqFile).toString('base64'))}`)
    t.equal(res.status, 200)
    t.match(res.headers.get('cache-control'), /max-age=\d+/)
    const respFile = s.dir.file('root-resp.der', Buffer.from(await res.arrayBuffer()))
    const r = run('openssl', ['ocsp', '-respin', respFile, '-issuer', s.root, '-cert', s.issuing, '-CAfile', s.root, '-no_nonce'])
    t.match(r.stdout + r.stderr, /Response verify OK/)
    t.match(r.stdout, /: good/)
  })

  await t.test('ok/leaves-still-answered-by-the-issuing-ca-responder', async (t) => {
    const r = await runAsync('openssl', ['ocsp', '-issuer', s.issuing, '-cert', s.lost.file, '-url', `${s.url}/ocsp`, '-CAfile', s.root, '-verify_other', s.issuing, '-nonce', '-resp_text'])
    t.match(r.stdout + r.stderr, /Response verify OK/)
    t.match(r.stdout, /lost@example.com.pem: revoked/)
    t.match(r.stdout, /Issuer: O\s*=\s*kagi, CN\s*=\s*kagi Issuing CA/)
  })

  await t.test('ok/mixed-request-answered-by-the-issuing-ca-responder', async (t) => {
    // One response has one signer: a request naming both CAs is answered as before.
    const r = await runAsync('openssl', ['ocsp', '-issuer', s.issuing, '-cert', s.good.file, '-issuer', s.root, '-cert', s.issuing, '-url', `${s.url}/ocsp`, '-noverify', '-nonce', '-resp_text'])
    t.match(r.stdout, /good@example.com.pem: good/)
    t.match(r.stdout, /issuing\.pem: unknown/, 'never good from a responder that cannot speak for the root')
  })
})

t.test('the root responder is renewed like the issuing CA\'s, once it has been needed', async (t) => {
  let now = Date.now()
  const s = await chainSetup(t, { clock: () => new Date(now) })
  await s.services.ocsp.ensureResponder()
  t.same(await rootResponderRows(s), [], 'the timer does not create it')
  const r = await runAsync('openssl', ['ocsp', '-issuer', s.root, '-cert', s.issuing, '-url', `${s.url}/ocsp`, '-CAfile', s.root, '-nonce'])
  t.match(r.stdout + r.stderr, /Response verify OK/)
  t.equal((await rootResponderRows(s)).length, 1)
  now += 6 * 86_400_000 // inside the 2-day renewal window of a 7-day certificate
  await s.services.ocsp.ensureResponder()
  const rows = await rootResponderRows(s)
  t.equal(rows.length, 2, 'renewed by the periodic check')
  t.ok(new Date(rows[1]!.not_after).getTime() > new Date(rows[0]!.not_after).getTime())
})

t.test('NSS vfychain checks every certificate of the chain by OCSP', async (t) => {
  if (!requireComponent(t, { name: 'NSS vfychain', available: commandExists('vfychain') && commandExists('certutil'), install: 'libnss3-tools' })) return
  const s = await chainSetup(t)
  const db = `sql:${s.dir.dir}/nssdb`
  t.equal(run('mkdir', ['-p', `${s.dir.dir}/nssdb`]).status, 0)
  t.equal(run('certutil', ['-N', '-d', db, '--empty-password']).status, 0)
  t.equal(run('certutil', ['-A', '-d', db, '-n', 'kagi-root', '-t', 'CT,C,C', '-a', '-i', s.root]).status, 0)
  // -pp: libpkix (CERT_PKIXVerifyCert); -u 0: SSL client. NSS keeps two sets of revocation flags,
  // one for the leaf (-g leaf) and one for the CA certificates above it (-g chain): both are set
  // here, so every certificate is checked by OCSP (-m ocsp, fetched from its AIA); requireInfo: a
  // certificate without an OCSP URL fails; failIfNoInfo: one without a fresh, verified answer fails.
  const ocspFor = (group: string) => ['-g', group, '-m', 'ocsp', '-s', 'requireInfo', '-s', 'failIfNoInfo']
  const vfychain = (leaf: string, groups = ['leaf', 'chain']) =>
    runAsync('vfychain', ['-d', db, '-pp', '-u', '0', ...groups.flatMap(ocspFor), '-a', leaf, '-a', s.issuing])

  await t.test('ok/good-leaf-passes', async (t) => {
    const r = await vfychain(s.good.file)
    t.equal(r.status, 0, r.stdout + r.stderr)
    t.match(r.stdout + r.stderr, /Chain is good!/)
  })

  await t.test('fail/revoked-leaf-fails', async (t) => {
    const r = await vfychain(s.lost.file)
    t.equal(r.status, 1, r.stdout + r.stderr)
    t.match(r.stdout + r.stderr, /Chain is bad!/)
    // NSS 3.87's libpkix log names "CERT 2. kagi-root" whichever certificate failed: do not match on it.
    t.match(r.stdout + r.stderr, /ERROR -8180/, 'SEC_ERROR_REVOKED_CERTIFICATE')
  })

  await t.test('control/without-the-root-responder-the-chain-check-fails', async (t) => {
    // The service as it was before issue 11: nobody could sign for the issuing CA.
    const { services } = s
    const withRoot = services.ocsp
    const responder = new ServiceCredential(services.db, ocspResponderCredential, { authority: services.authority, chain: services.chainDer, passphrase: services.config.caPassphrase!, log: services.log })
    services.ocsp = new OcspService(services.db, { issuing: services.ca.issuing, retiredIssuers: [], responder, validityMs: services.config.ocspValidityMs })
    t.teardown(() => void (services.ocsp = withRoot))
    const leafOnly = await vfychain(s.good.file, ['leaf'])
    t.equal(leafOnly.status, 0, `the leaf alone still checks out: ${leafOnly.stdout}${leafOnly.stderr}`)
    const chain = await vfychain(s.good.file)
    t.equal(chain.status, 1, `the chain check rejects the good leaf: ${chain.stdout}${chain.stderr}`)
    services.ocsp = withRoot
  })
})
