/**
 * CSR hardening end to end (issue 11): POST /api/v1/certificates answers a
 * CSR with explicit EC parameters or a SHA-1 signature with a 400 whose code
 * and message say what to change, and writes nothing; a CSR with a
 * compressed point gets a certificate with the point uncompressed.
 */
import { X509Certificate } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import { children, readOne } from '../../ca/der.js'
import { build } from '../helper.js'
import { run, tempDir } from '../support/openssl.js'
import { assertNoNewRows, brief, jsonOf, rowCounts } from './support.js'

function openssl(args: string[]): string {
  const r = run('openssl', args)
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/** A P-256 CSR made by openssl with the given parameter encoding, point form and digest. */
function p256Csr(dir: string, name: string, encoding: string, form: string, digest: string): string {
  const key = join(dir, `${name}.key`)
  openssl(['ecparam', '-name', 'prime256v1', '-param_enc', encoding, '-genkey', '-noout', '-out', `${key}.raw`])
  openssl(['ec', '-in', `${key}.raw`, '-conv_form', form, '-param_enc', encoding, '-out', key])
  return openssl(['req', '-new', '-key', key, `-${digest}`, '-subj', '/CN=ignored.example'])
}

t.test('POST /api/v1/certificates: hostile CSRs are 400s that write nothing; a compressed point is uncompressed', async (t) => {
  const { app, as, database } = await build(t)
  const dir = tempDir(t).dir
  const refused: [string, string, string, RegExp][] = [
    ['fail/explicit-parameters', p256Csr(dir, 'explicit', 'explicit', 'uncompressed', 'sha256'), 'key_rejected', /explicit \(specified\) curve parameters; RFC 5480 §2\.1\.1 allows only a named curve/],
    ['fail/sha1', p256Csr(dir, 'sha1', 'named_curve', 'uncompressed', 'sha1'), 'csr_signature_invalid', /^the CSR is signed with SHA-1; sign it with SHA-256 or stronger \(SHA-2\)$/],
  ]
  for (const [name, csr, code, message] of refused) {
    const before = await rowCounts(database.db)
    const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user: 'alice@example.com', csr } })
    t.equal(res.statusCode, 400, `${name}: 400 (got ${brief(res)})`)
    const body = jsonOf(res) as { error: { code: string; message: string } }
    t.equal(body.error.code, code, `${name}: code ${code}`)
    t.match(body.error.message, message, `${name}: the message says what to change`)
    await assertNoNewRows(t, database.db, before, name)
  }
  const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user: 'alice@example.com', csr: p256Csr(dir, 'compressed', 'named_curve', 'compressed', 'sha256') } })
  t.equal(res.statusCode, 201, `ok/compressed-point: 201 (got ${brief(res)})`)
  const cert = new X509Certificate((jsonOf(res) as { certificate: string }).certificate)
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' })
  const point = children(readOne(spki))[1]!.value.subarray(1)
  t.equal(point.length, 65, 'ok/compressed-point: 65-octet point')
  t.equal(point[0], 0x04, 'ok/compressed-point: uncompressed (04) in the certificate')
})
