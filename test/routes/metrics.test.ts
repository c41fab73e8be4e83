import 'reflect-metadata'
import t from 'tap'
import { issuerHashes } from '../../ca/index.js'
import { nullValue, octets, oid, seq, uint } from '../../ca/der.js'
import { OID } from '../../ca/oids.js'
import { MessageType } from '../../ca/scep/index.js'
import { loadConfig } from '../../src/config.js'
import { build, databaseKind, type TestApp } from '../helper.js'
import { createTestIdp } from '../support/saml-forge.js'
import { csrFor, newRequester, pkiMessage, readCertRep, scepRaCertificate } from '../support/scep-request.js'

/** A sample line: `name{a="x",b="y"} value`. */
interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/**
 * Parses prom-client's text format strictly: every line is `# HELP name …`,
 * `# TYPE name kind`, or a sample of a family whose TYPE came first.
 */
function parseExposition(text: string): Sample[] {
  const types = new Map<string, string>()
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line)
    if (help) continue
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type) {
      types.set(type[1]!, type[2]!)
      continue
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/i.exec(line)
    if (!sample) throw new Error(`not a Prometheus line: ${line}`)
    const name = sample[1]!
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '')
    if (!types.has(family)) throw new Error(`sample before its # TYPE: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, key, value] of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!
    samples.push({ name, labels, value: Number(sample[3]) })
  }
  return samples
}

/** The value of one sample (0 when absent, as a counter not yet incremented). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  return found?.value ?? 0
}

async function scrape(kagi: TestApp, headers: Record<string, string> = {}): Promise<{ text: string; samples: Sample[] }> {
  const res = await kagi.app.inject({ url: '/metrics', headers })
  if (res.statusCode !== 200) throw new Error(`GET /metrics: ${res.statusCode} ${res.body}`)
  return { text: res.body, samples: parseExposition(res.body) }
}

/** OCSPRequest (RFC 6960 §4.1.1) for one serial of the issuing CA, SHA-1 CertID, no nonce: the cacheable kind. */
function ocspGet(kagi: TestApp, serial: string) {
  const hashes = issuerHashes(kagi.services.ca.issuing.subject, kagi.services.ca.issuing.publicKeyInfo)
  const der = seq(seq(seq(seq(seq(seq(oid(OID.sha1), nullValue()), octets(hashes.nameHashes.get(OID.sha1)!), octets(hashes.keyHashes.get(OID.sha1)!), uint(Buffer.from(serial, 'hex')))))))
  return kagi.app.inject({ url: `/ocsp/${encodeURIComponent(der.toString('base64'))}` })
}

const idp = createTestIdp({ entityId: 'https://app.onelogin.com/saml/metadata/kagi-test' })

t.test('GET /metrics counts issuance, revocation, OCSP, SCEP and sign-in refusals', async (t) => {
  const kagi = await build(t, { env: { KAGI_SAML_ENTRY_POINT: 'http://127.0.0.1:9/sso', KAGI_SAML_IDP_CERT: idp.certPem, KAGI_SAML_IDP_ISSUER: idp.entityId } })
  const first = await kagi.app.inject({ url: '/metrics' })
  t.equal(first.statusCode, 200, 'open without KAGI_METRICS_TOKEN')
  t.match(first.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const before = parseExposition(first.body)
  t.equal(valueOf(before, 'kagi_build_info', { node: process.version }), 1, 'build info with the node version')
  t.match(before.find((s) => s.name === 'kagi_build_info')!.labels.version, /^\d+\.\d+\.\d+/, 'the version from package.json')
  t.ok(before.some((s) => s.name === 'kagi_process_cpu_seconds_total'), 'default process metrics, kagi_ prefix')
  t.equal(valueOf(before, 'kagi_crl_entries', { ca: 'issuing' }), 0, 'the CRL signed at start lists nothing')
  t.ok(before.some((s) => s.name === 'kagi_crl_age_seconds' && s.labels.ca === 'issuing'), 'CRL age')
  // The embedded database has one connection and no pool: nothing to report.
  t.equal(before.some((s) => s.name === 'kagi_db_pool_connections'), databaseKind === 'postgres', 'pool gauges only on PostgreSQL')
  if (databaseKind === 'postgres') t.ok(before.some((s) => s.name === 'kagi_db_pool_waiting'))

  const issued = await kagi.app.inject({ method: 'POST', url: '/api/v1/certificates', headers: kagi.as.admin, payload: { profile: 'user', user: 'alice@example.com' } })
  t.equal(issued.statusCode, 201, issued.body)
  const serial = issued.json().serial as string
  const fresh = await ocspGet(kagi, serial)
  const cached = await ocspGet(kagi, serial)
  t.same(cached.rawPayload, fresh.rawPayload, 'the second answer is the pre-signed one')
  t.equal((await kagi.app.inject({ url: `/api/v1/certificates/${serial}`, headers: kagi.as.admin })).statusCode, 200)
  const revoked = await kagi.app.inject({ method: 'POST', url: `/api/v1/certificates/${serial}/revoke`, headers: kagi.as.admin, payload: { reason: 'keyCompromise' } })
  t.equal(revoked.statusCode, 200, revoked.body)
  await ocspGet(kagi, serial)

  const ra = await scepRaCertificate(kagi)
  const requester = await newRequester()
  const csr = await csrFor(requester.cryptoKeys, 'CN=alice', { challenge: 'F'.repeat(32), emails: ['alice@example.com'] })
  const scep = await kagi.app.inject({
    method: 'POST',
    url: '/scep?operation=PKIOperation',
    headers: { 'content-type': 'application/x-pki-message' },
    payload: pkiMessage(requester, { messageType: MessageType.PKCSReq, recipient: ra, content: csr }).der,
  })
  t.equal((await readCertRep(scep.rawPayload, requester)).pkiStatus, '2', 'an unknown challenge is refused')

  const refused = await kagi.app.inject({
    method: 'POST',
    url: '/auth/saml/acs',
    payload: new URLSearchParams({ SAMLResponse: Buffer.from('<not-saml/>').toString('base64') }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  t.equal(refused.statusCode, 401, 'a broken SAML response is refused')
  t.equal((await kagi.app.inject({ url: '/no/such/path' })).statusCode, 404)

  const { text, samples } = await scrape(kagi)
  t.equal(valueOf(samples, 'kagi_certificates_issued_total', { profile: 'user', platform: 'none', path: 'api' }), 1, 'issued through the API (admin token)')
  t.equal(valueOf(samples, 'kagi_certificates_revoked_total', { profile: 'user', platform: 'none', path: 'api', reason: 'keyCompromise' }), 1)
  t.equal(valueOf(samples, 'kagi_ocsp_requests_total', { method: 'GET' }), 3)
  t.equal(valueOf(samples, 'kagi_ocsp_cache_hits_total'), 1, 'one answer came from the cache')
  t.equal(valueOf(samples, 'kagi_ocsp_answers_total', { status: 'good' }), 2)
  t.equal(valueOf(samples, 'kagi_ocsp_answers_total', { status: 'revoked' }), 1, 'the revocation dropped the cached good answer')
  t.equal(valueOf(samples, 'kagi_scep_operations_total', { status: 'FAILURE', fail_info: 'badRequest' }), 1)
  t.equal(valueOf(samples, 'kagi_sign_in_refusals_total'), 1)
  t.equal(valueOf(samples, 'kagi_sign_ins_total'), 0, 'nobody signed in')
  t.equal(valueOf(samples, 'kagi_crl_entries', { ca: 'issuing' }), 1, 'the re-signed CRL lists the revocation')

  const route = (pattern: string, method = 'GET') => valueOf(samples, 'kagi_http_request_duration_seconds_count', { method, route: pattern })
  t.equal(route('/api/v1/certificates/:serial'), 1, 'latency by route pattern')
  t.equal(route('/api/v1/certificates/:serial/revoke', 'POST'), 1)
  t.equal(route('/ocsp/*'), 3)
  t.equal(route('unmatched'), 1, 'a 404 is one label, whatever its URL')
  t.ok(samples.some((s) => s.name === 'kagi_http_request_duration_seconds_bucket' && s.labels.route === '/scep' && s.labels.le === '+Inf'), 'histogram buckets')
  t.notOk(text.includes(serial), 'no serial in any label')
  t.notOk(text.includes('alice@example.com'), 'no email in any label')
  t.notOk(text.includes('/no/such/path'), 'no raw URL in any label')
  t.notOk(text.includes(kagi.adminToken), 'no token')
})

t.test('KAGI_METRICS_TOKEN: Authorization: Bearer <token> required', async (t) => {
  const token = 'metrics-token-0123456789'
  const kagi = await build(t, { env: { KAGI_METRICS_TOKEN: token } })
  const cases = [
    ['fail/no-header', {}, 401],
    ['fail/wrong-token', { authorization: 'Bearer metrics-token-9876543210' }, 401],
    ['fail/a-prefix-of-it', { authorization: `Bearer ${token.slice(0, 16)}` }, 401],
    ['fail/basic', { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` }, 401],
    ['fail/api-token', kagi.as.admin, 401],
    ['ok/bearer', { authorization: `Bearer ${token}` }, 200],
  ] as const
  for (const [name, headers, status] of cases) {
    const res = await kagi.app.inject({ url: '/metrics', headers })
    t.equal(res.statusCode, status, name)
  }
  t.ok(parseExposition((await scrape(kagi, { authorization: `bearer ${token}` })).text).length > 0, 'the scheme is case-insensitive')
  t.throws(() => loadConfig({ KAGI_METRICS_TOKEN: 'short' }), /KAGI_METRICS_TOKEN: must be at least 16 characters/)
})

t.test('offboarding counts each certificate with its platform; each app has its own registry', async (t) => {
  const one = await build(t)
  const two = await build(t)
  const device = { name: 'Bob Mac', platform: 'macos', hostname: 'bob-mac.example.com' }
  const issued = await one.app.inject({ method: 'POST', url: '/api/v1/certificates', headers: one.as.mdm, payload: { profile: 'device', user: 'bob@example.com', device } })
  t.equal(issued.statusCode, 201, issued.body)
  const lost = await one.app.inject({ method: 'POST', url: `/api/v1/devices/${issued.json().deviceId}/revoke`, headers: one.as.admin, payload: { reason: 'keyCompromise' } })
  t.equal(lost.statusCode, 200, lost.body)
  const { samples } = await scrape(one)
  t.equal(valueOf(samples, 'kagi_certificates_issued_total', { profile: 'device', platform: 'macos', path: 'mdm' }), 1, 'an MDM token is the mdm path')
  t.equal(valueOf(samples, 'kagi_certificates_revoked_total', { profile: 'device', platform: 'macos', path: 'api', reason: 'keyCompromise' }), 1)
  t.equal(valueOf(samples, 'kagi_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/devices/:id/revoke' }), 1)
  t.equal(valueOf((await scrape(two)).samples, 'kagi_certificates_issued_total', { path: 'mdm' }), 0, 'the other app counted nothing')
})
