import 'reflect-metadata'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { build } from '../helper.js'
import { opensslCsr, run, runAsync, tempDir } from '../support/openssl.js'

t.test('OCSP with the real openssl client', async (t) => {
  const { app, as, services } = await build(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/ocsp`
  const dir = tempDir(t)
  const csr = opensslCsr(dir.dir, 'ec:P-256')
  const issue = async (user: string) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user, csr } })
    return { serial: res.json().serial as string, file: dir.file(`${user}.pem`, res.json().certificate) }
  }
  const good = await issue('good@example.com')
  const lost = await issue('lost@example.com')
  const [issuingPem, rootPem] = services.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g)!
  const issuing = dir.file('issuing.pem', issuingPem!)
  const root = dir.file('root.pem', rootPem!)
  const ocsp = async (...args: string[]) => {
    const r = await runAsync('openssl', ['ocsp', '-issuer', issuing, '-url', url, '-CAfile', root, '-verify_other', issuing, '-resp_text', ...args])
    return { status: r.status, text: r.stdout + r.stderr }
  }

  await t.test('ok/good-with-nonce', async (t) => {
    const r = await ocsp('-nonce', '-cert', good.file)
    t.equal(r.status, 0, r.text)
    t.match(r.text, /Response verify OK/)
    t.match(r.text, new RegExp(`${good.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: good`))
    t.match(r.text, /OCSP Nonce:/)
    t.notMatch(r.text, /WARNING: no nonce/)
    t.match(r.text, /Responder Id: /)
    t.match(r.text, /OCSP Signing/, 'the delegated responder certificate is included')
    t.match(r.text, /OCSP No Check/)
  })

  await t.test('ok/revoked-after-cached-good', async (t) => {
    const before = await ocsp('-no_nonce', '-cert', lost.file)
    t.match(before.text, /: good/, 'good, and now cached')
    const res = await app.inject({ method: 'POST', url: `/api/v1/certificates/${lost.serial}/revoke`, headers: as.admin, payload: { reason: 'keyCompromise' } })
    t.equal(res.statusCode, 200)
    for (const flag of ['-no_nonce', '-nonce']) {
      const r = await ocsp(flag, '-cert', lost.file)
      t.match(r.text, /Response verify OK/)
      t.match(r.text, /: revoked/, `${flag}: the cached good answer was dropped at once`)
      t.match(r.text, /Reason: keyCompromise/)
      t.match(r.text, /Revocation Time:/)
    }
  })

  await t.test('ok/unknown-never-good', async (t) => {
    const neverIssued = await ocsp('-nonce', '-serial', '0x4abcdef0123456789abcdef012345678')
    t.match(neverIssued.text, /Response verify OK/)
    t.match(neverIssued.text, /0x4ABCDEF0123456789ABCDEF012345678: unknown/i)
    const other = run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir.dir}/o.key`, '-out', `${dir.dir}/other.pem`, '-subj', '/CN=Other CA', '-days', '1'])
    t.equal(other.status, 0)
    const foreign = await runAsync('openssl', ['ocsp', '-issuer', `${dir.dir}/other.pem`, '-serial', '0x1001', '-url', url, '-noverify', '-resp_text'])
    t.match(foreign.stdout, /0x1001: unknown/, 'another issuer: unknown, never good')
  })

  await t.test('ok/several-in-one-request', async (t) => {
    const r = await ocsp('-nonce', '-cert', good.file, '-cert', lost.file)
    t.match(r.text, /Response verify OK/)
    t.match(r.text, /good@example.com.pem: good/)
    t.match(r.text, /lost@example.com.pem: revoked/)
  })

  await t.test('ok/get-as-nss-sends-it', async (t) => {
    const reqFile = `${dir.dir}/req.der`
    run('openssl', ['ocsp', '-issuer', issuing, '-cert', good.file, '-no_nonce', '-reqout', reqFile])
    const encoded = encodeURIComponent(readFileSync(reqFile).toString('base64'))
    const res = await fetch(`${url}/${encoded}`)
    t.equal(res.status, 200)
    t.equal(res.headers.get('content-type'), 'application/ocsp-response')
    t.match(res.headers.get('cache-control'), /max-age=\d+/)
    const respFile = dir.file('resp.der', Buffer.from(await res.arrayBuffer()))
    const r = run('openssl', ['ocsp', '-respin', respFile, '-issuer', issuing, '-cert', good.file, '-CAfile', root, '-verify_other', issuing, '-no_nonce'])
    t.match(r.stdout + r.stderr, /Response verify OK/)
    t.match(r.stdout, /: good/)
  })

  await t.test('fail/garbage-gets-malformedRequest-never-5xx', async (t) => {
    const reqFile = `${dir.dir}/req2.der`
    run('openssl', ['ocsp', '-issuer', issuing, '-cert', good.file, '-nonce', '-reqout', reqFile])
    const real = readFileSync(reqFile)
    const inputs: Buffer[] = [Buffer.alloc(0), Buffer.from('hello')]
    for (let cut = 1; cut < real.length; cut += 3) inputs.push(real.subarray(0, cut))
    for (let i = 0; i < 150; i++) inputs.push(randomBytes(1 + (i % 300)))
    const malformed = Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01])
    let fiveHundreds = 0
    let notMalformed = 0
    for (const body of inputs) {
      const post = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: new Uint8Array(body) })
      const payload = Buffer.from(await post.arrayBuffer())
      if (post.status >= 500) fiveHundreds++
      if (post.status === 200 && !payload.equals(malformed)) notMalformed++
      const get = await fetch(`${url}/${encodeURIComponent(body.toString('base64'))}`)
      await get.arrayBuffer()
      if (get.status >= 500) fiveHundreds++
    }
    t.equal(fiveHundreds, 0, `no 5xx for ${inputs.length} bad inputs`)
    t.equal(notMalformed, 0, 'every bad POST got malformedRequest')
    const text = run('openssl', ['ocsp', '-respin', dir.file('m.der', malformed), '-resp_text', '-noverify'])
    t.match(text.stdout + text.stderr, /malformedrequest/i)
    const wrongType = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })
    t.equal(wrongType.status, 415)
  })
})

t.test('OCSP refuses to speak for a retired issuing CA', async (t) => {
  const { app, as, services, database } = await build(t)
  const dir = tempDir(t)
  const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user: 'old@example.com', csr: opensslCsr(dir.dir, 'ec:P-256') } })
  const oldLeaf = dir.file('old.pem', res.json().certificate)
  const oldIssuing = dir.file('old-issuing.pem', services.chainPem.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!)
  // Replace the CA (as `kagi ca init --force` does); the old issuing CA becomes retired.
  const { initCa } = await import('../../src/startup/ca-loader.js')
  const { createServices } = await import('../../src/startup/services.js')
  const { buildApp } = await import('../../src/app.js')
  const { ca } = await initCa(database.db, services.config, services.config.caPassphrase!, { force: true })
  t.equal(ca.retiredIssuing.length, 1)
  const rotated = createServices(services.config, database.db, ca, { passphrase: services.config.caPassphrase, exportCrls: false })
  await rotated.start()
  t.teardown(() => rotated.stop())
  const app2 = await buildApp(rotated)
  t.teardown(() => app2.close())
  const reqFile = `${dir.dir}/old-req.der`
  t.equal(run('openssl', ['ocsp', '-issuer', oldIssuing, '-cert', oldLeaf, '-no_nonce', '-reqout', reqFile]).status, 0)
  const answer = await app2.inject({ method: 'POST', url: '/ocsp', headers: { 'content-type': 'application/ocsp-request' }, payload: readFileSync(reqFile) })
  t.equal(answer.statusCode, 200)
  const text = run('openssl', ['ocsp', '-respin', dir.file('old-resp.der', answer.rawPayload), '-resp_text', '-noverify'])
  t.match(text.stdout + text.stderr, /unauthorized/i, 'RFC 6960 §2.3: not authoritative for the retired CA')
})
