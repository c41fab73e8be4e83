import { createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as pkijs from 'pkijs'
import t from 'tap'
import { certificateInfo } from '../../ca/certificate-info.js'
import { explicit, octets, oid, pemToDer, seq, tlv } from '../../ca/der.js'
import {
  buildOcspResponse,
  certIdMatchesIssuer,
  issuerHashes,
  ocspErrorResponse,
  OcspMalformedError,
  parseOcspRequest,
  type OcspCertStatus,
  type OcspResponseStatus,
  type ParsedOcspRequest,
} from '../../ca/ocsp.js'
import { softwareSigner, type Signer } from '../../ca/signer.js'
import { run, tempDir } from '../support/openssl.js'

// ---- a small PKI made with the openssl CLI --------------------------------------------------

const tmp = tempDir(t)
const path = (name: string): string => join(tmp.dir, name)

function openssl(args: string[]): string {
  const r = run('openssl', args)
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

tmp.file(
  'ca.cnf',
  ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', 'O = Kagi Test', 'CN = Kagi OCSP Test CA', '[v3_ca]',
    'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash'].join('\n'),
)
tmp.file('responder.ext', 'basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = OCSPSigning\nnoCheck = ignored\n')
tmp.file('leaf.ext', 'basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = clientAuth\n')

const ecKey = (name: string): void => void openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path(name)])
ecKey('ca.key')
openssl(['req', '-x509', '-new', '-key', path('ca.key'), '-config', path('ca.cnf'), '-extensions', 'v3_ca', '-days', '30', '-out', path('ca.pem')])

/** Issues a certificate from the CA for a new key; returns the certificate path. */
function issue(name: string, serial: string, ext: string, rsa = false): string {
  if (rsa) openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', path(`${name}.key`)])
  else ecKey(`${name}.key`)
  openssl(['req', '-new', '-key', path(`${name}.key`), '-subj', `/CN=${name}`, '-out', path(`${name}.csr`)])
  openssl(['x509', '-req', '-in', path(`${name}.csr`), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-set_serial', serial,
    '-days', '30', '-extfile', path(ext), '-out', path(`${name}.pem`)])
  return path(`${name}.pem`)
}

const responderPem = issue('responder', '0x0f', 'responder.ext')
const rsaResponderPem = issue('rsa-responder', '0x10', 'responder.ext', true)
const goodPem = issue('good', '0x7e57000000000001', 'leaf.ext')
const revokedPem = issue('revoked', '0xc0ffee0000000002', 'leaf.ext') // high bit: DER carries a leading 00
const strangerPem = issue('stranger', '0x0123', 'leaf.ext')
const caPem = path('ca.pem')

const certDer = (file: string): Buffer => pemToDer(readFileSync(file, 'utf8'), 'CERTIFICATE')
const ca = certificateInfo(certDer(caPem))
const hashes = issuerHashes(ca.subject, ca.publicKeyInfo)
const signerFor = (name: string): Signer => softwareSigner(createPrivateKey(readFileSync(path(`${name}.key`))))
const responders = {
  ec: { pem: responderPem, der: certDer(responderPem), signer: signerFor('responder') },
  rsa: { pem: rsaResponderPem, der: certDer(rsaResponderPem), signer: signerFor('rsa-responder') },
}

const REVOKED_AT = new Date(Date.UTC(2025, 2, 4, 5, 6, 7))
const statusBySerial = new Map<string, OcspCertStatus>([
  ['7e57000000000001', { status: 'good' }],
  ['c0ffee0000000002', { status: 'revoked', revokedAt: REVOKED_AT, reason: 'keyCompromise' }],
])

let counter = 0
/** A real request from `openssl ocsp ... -reqout`. */
function opensslRequest(args: string[]): Buffer {
  const out = path(`req-${++counter}.der`)
  openssl(['ocsp', ...args, '-reqout', out])
  return readFileSync(out)
}

/** What kagi's responder will do: unknown for foreign issuers and unknown serials. */
function answer(request: ParsedOcspRequest, responder = responders.ec): Buffer {
  const now = new Date()
  return buildOcspResponse({
    responderCertificate: responder.der,
    signer: responder.signer,
    producedAt: now,
    nonce: request.nonce,
    answers: request.certIds.map((certId) => ({
      certId,
      status: (certIdMatchesIssuer(certId, hashes) && statusBySerial.get(certId.serial)) || { status: 'unknown' },
      thisUpdate: new Date(now.getTime() - 60_000),
      nextUpdate: new Date(now.getTime() + 3_600_000),
    })),
  })
}

/** Feeds a response back to `openssl ocsp -respin`; returns stdout + stderr. */
function opensslCheck(response: Buffer, args: string[]): { status: number | null; text: string } {
  const file = tmp.file(`resp-${++counter}.der`, response)
  const r = run('openssl', ['ocsp', '-respin', file, ...args, '-resp_text'])
  return { status: r.status, text: r.stdout + r.stderr }
}

/** openssl's ASN1_TIME_print form: "Mar  4 05:06:07 2025 GMT". */
function opensslTime(d: Date): string {
  const month = d.toUTCString().slice(8, 11)
  return `${month} ${String(d.getUTCDate()).padStart(2)} ${d.toISOString().slice(11, 19)} ${d.getUTCFullYear()} GMT`
}

// ---- openssl ocsp round trips -----------------------------------------------------------------

for (const kind of ['ec', 'rsa'] as const) {
  t.test(`good, answered by the ${kind} delegated responder, verifies in openssl`, async (t) => {
    const request = parseOcspRequest(opensslRequest(['-issuer', caPem, '-cert', goodPem, '-no_nonce']))
    t.same(request.certIds.map((c) => c.serial), ['7e57000000000001'])
    t.equal(request.nonce, undefined)
    t.equal(request.signed, false)
    const r = opensslCheck(answer(request, responders[kind]), ['-issuer', caPem, '-cert', goodPem, '-CAfile', caPem, '-no_nonce'])
    t.equal(r.status, 0, r.text)
    t.match(r.text, 'Response verify OK')
    t.match(r.text, `${goodPem}: good`)
    t.match(r.text, /OCSP Response Status: successful \(0x0\)/)
    t.match(r.text, /Response Type: Basic OCSP Response/)
    const keyId = certificateInfo(responders[kind].der).subjectKeyId!.toString('hex').toUpperCase()
    t.match(r.text, `Responder Id: ${keyId}`, 'byKey: SHA-1 of the responder key, as openssl computes the SKI')
    t.match(r.text, /Next Update: /)
    const v = opensslCheck(answer(request, responders[kind]), ['-issuer', caPem, '-cert', goodPem, '-VAfile', responders[kind].pem, '-no_nonce'])
    t.match(v.text, 'Response verify OK', 'trusting the responder certificate directly (-VAfile)')
  })
}

t.test('revoked carries the revocation time and reason', async (t) => {
  const request = parseOcspRequest(opensslRequest(['-issuer', caPem, '-cert', revokedPem, '-no_nonce']))
  t.same(request.certIds.map((c) => c.serial), ['c0ffee0000000002'], 'leading 00 octet stripped')
  const r = opensslCheck(answer(request), ['-issuer', caPem, '-cert', revokedPem, '-CAfile', caPem, '-no_nonce'])
  t.equal(r.status, 0, 'openssl ocsp exits 0 for revoked too: the status text is what counts')
  t.match(r.text, 'Response verify OK')
  t.match(r.text, `${revokedPem}: revoked`)
  t.match(r.text, 'Reason: keyCompromise')
  t.match(r.text, `Revocation Time: ${opensslTime(REVOKED_AT)}`)
})

t.test('revoked without a reason, or "unspecified", omits revocationReason', async (t) => {
  const request = parseOcspRequest(opensslRequest(['-issuer', caPem, '-cert', revokedPem, '-no_nonce']))
  for (const reason of [undefined, 'unspecified'] as const) {
    const status: OcspCertStatus = { status: 'revoked', revokedAt: REVOKED_AT, reason }
    const now = new Date()
    const der = buildOcspResponse({ ...signerArgs(), producedAt: now, answers: [{ certId: request.certIds[0]!, status, thisUpdate: now }] })
    const r = opensslCheck(der, ['-issuer', caPem, '-cert', revokedPem, '-CAfile', caPem, '-no_nonce'])
    t.match(r.text, `${revokedPem}: revoked`)
    t.notMatch(r.text, 'Reason:')
    t.notMatch(r.text, 'Next Update', 'nextUpdate is optional')
  }
})

function signerArgs(): { responderCertificate: Buffer; signer: Signer } {
  return { responderCertificate: responders.ec.der, signer: responders.ec.signer }
}

t.test('unknown serial and foreign issuer are answered unknown', async (t) => {
  const request = parseOcspRequest(opensslRequest(['-issuer', caPem, '-cert', strangerPem, '-no_nonce']))
  t.ok(certIdMatchesIssuer(request.certIds[0]!, hashes))
  const r = opensslCheck(answer(request), ['-issuer', caPem, '-cert', strangerPem, '-CAfile', caPem, '-no_nonce'])
  t.match(r.text, 'Response verify OK')
  t.match(r.text, `${strangerPem}: unknown`)
  // A CertID naming another issuer (the responder certificate posing as issuer).
  const foreign = parseOcspRequest(opensslRequest(['-issuer', responderPem, '-cert', goodPem, '-no_nonce']))
  t.notOk(certIdMatchesIssuer(foreign.certIds[0]!, hashes))
  t.match(opensslCheck(answer(foreign), ['-issuer', responderPem, '-cert', goodPem, '-no_nonce', '-noverify']).text, `${goodPem}: unknown`)
})

t.test('the nonce is echoed', async (t) => {
  const der = opensslRequest(['-issuer', caPem, '-cert', goodPem, '-nonce'])
  const request = parseOcspRequest(der)
  t.ok(request.nonce, 'nonce parsed')
  t.equal(request.nonce![0], 0x04, 'openssl wraps the nonce in an OCTET STRING')
  // Without -cert, openssl compares the response nonce with the one in -reqin.
  const reqFile = tmp.file('nonce-req.der', der)
  const r = opensslCheck(answer(request), ['-reqin', reqFile, '-CAfile', caPem])
  t.equal(r.status, 0, r.text)
  t.match(r.text, 'Response verify OK')
  t.match(r.text, 'OCSP Nonce')
  t.match(r.text, request.nonce!.toString('hex').toUpperCase())
  t.notMatch(r.text, 'WARNING: no nonce')
  t.notMatch(r.text, 'Nonce Verify error')
  t.match(r.text, 'Cert Status: good')
  // And the control: the same request answered without the nonce is flagged.
  const bare = opensslCheck(answer({ ...request, nonce: undefined }), ['-reqin', reqFile, '-CAfile', caPem])
  t.match(bare.text, 'WARNING: no nonce in response')
})

t.test('several certificates in one request are answered together', async (t) => {
  const args = ['-issuer', caPem, '-cert', goodPem, '-cert', revokedPem, '-cert', strangerPem]
  const request = parseOcspRequest(opensslRequest([...args, '-no_nonce']))
  t.same(request.certIds.map((c) => c.serial), ['7e57000000000001', 'c0ffee0000000002', '0123'])
  const r = opensslCheck(answer(request), [...args, '-CAfile', caPem, '-no_nonce'])
  t.match(r.text, 'Response verify OK')
  t.match(r.text, `${goodPem}: good`)
  t.match(r.text, `${revokedPem}: revoked`)
  t.match(r.text, `${strangerPem}: unknown`)
  t.equal(r.text.match(/Certificate ID:/g)?.length, 3)
})

t.test('a signed request parses (signature not verified)', async (t) => {
  const der = opensslRequest(['-signer', goodPem, '-signkey', path('good.key'), '-issuer', caPem, '-cert', goodPem, '-no_nonce'])
  const request = parseOcspRequest(der)
  t.equal(request.signed, true)
  t.same(request.certIds.map((c) => c.serial), ['7e57000000000001'])
})

// ---- error responses ---------------------------------------------------------------------------

t.test('error responses parse in openssl', async (t) => {
  // openssl 3.0 prints only "Responder Error: malformedrequest (1)" and exits 1 for these.
  const codes: Record<OcspResponseStatus, number> = { malformedRequest: 1, internalError: 2, tryLater: 3, sigRequired: 5, unauthorized: 6 }
  for (const [status, code] of Object.entries(codes) as [OcspResponseStatus, number][]) {
    const r = opensslCheck(ocspErrorResponse(status), [])
    t.match(r.text, `Responder Error: ${status.toLowerCase()} (${code})`, status)
    t.notMatch(r.text, 'Response Type', 'no responseBytes')
  }
  t.same(ocspErrorResponse('malformedRequest'), Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]))
})

// ---- CertID hashes -------------------------------------------------------------------------------

t.test('issuerHashes matches the CertIDs openssl sends', async (t) => {
  const oids: Record<string, string> = { sha1: '1.3.14.3.2.26', sha256: '2.16.840.1.101.3.4.2.1', sha384: '2.16.840.1.101.3.4.2.2', sha512: '2.16.840.1.101.3.4.2.3' }
  for (const [digest, hashOid] of Object.entries(oids)) {
    const digestArg = digest === 'sha1' ? [] : [`-${digest}`] // digest must come before -cert
    const der = opensslRequest([...digestArg, '-issuer', caPem, '-cert', goodPem, '-no_nonce'])
    const [certId] = parseOcspRequest(der).certIds
    t.equal(certId!.hashAlgorithm, hashOid, digest)
    t.ok(certIdMatchesIssuer(certId!, hashes), `${digest} CertID matches the CA`)
    // openssl wraps long hex values with a trailing backslash: unwrap before matching.
    const text = openssl(['ocsp', '-reqin', tmp.file(`hash-${digest}.der`, der), '-req_text']).replace(/\\\n\s*/g, '')
    t.match(text, `Issuer Name Hash: ${hashes.nameHashes.get(hashOid)!.toString('hex').toUpperCase()}`)
    t.match(text, `Issuer Key Hash: ${hashes.keyHashes.get(hashOid)!.toString('hex').toUpperCase()}`)
    t.notOk(certIdMatchesIssuer({ ...certId!, hashAlgorithm: '1.2.3.4' }, hashes), 'unknown hash algorithm never matches')
  }
})

t.test('parser agrees with pkijs on real requests', async (t) => {
  const der = opensslRequest(['-issuer', caPem, '-cert', goodPem, '-cert', revokedPem, '-nonce'])
  const ours = parseOcspRequest(der)
  const theirs = pkijs.OCSPRequest.fromBER(new Uint8Array(der))
  const list = theirs.tbsRequest.requestList
  t.equal(ours.certIds.length, list.length)
  list.forEach((r, i) => {
    const c = ours.certIds[i]!
    t.equal(c.hashAlgorithm, r.reqCert.hashAlgorithm.algorithmId)
    t.same(c.issuerNameHash, Buffer.from(r.reqCert.issuerNameHash.valueBlock.valueHexView))
    t.same(c.issuerKeyHash, Buffer.from(r.reqCert.issuerKeyHash.valueBlock.valueHexView))
    t.same(c.raw, Buffer.from(r.reqCert.toSchema().toBER()))
  })
  const nonce = theirs.tbsRequest.requestExtensions?.find((e) => e.extnID === '1.3.6.1.5.5.7.48.1.2')
  t.same(ours.nonce, Buffer.from(nonce!.extnValue.valueBlock.valueHexView))
})

// ---- malformed input ---------------------------------------------------------------------------

/** A deterministic xorshift PRNG so that any failure reproduces. */
function prng(seed: number): () => number {
  let x = seed
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 0x100000000
  }
}

t.test('malformed requests throw OcspMalformedError', async (t) => {
  const real = opensslRequest(['-issuer', caPem, '-cert', goodPem, '-nonce'])
  t.throws(() => parseOcspRequest(Buffer.alloc(0)), OcspMalformedError, 'empty')
  t.throws(() => parseOcspRequest(Buffer.concat([real, Buffer.from([0])])), OcspMalformedError, 'trailing byte')
  let truncated = 0
  for (let n = 0; n < real.length; n++) {
    try {
      parseOcspRequest(real.subarray(0, n))
    } catch (error) {
      if (error instanceof OcspMalformedError) truncated++
    }
  }
  t.equal(truncated, real.length, 'every truncation is rejected')

  const random = prng(0x6b616769)
  let rejected = 0
  for (let i = 0; i < 200; i++) {
    const bytes = Buffer.alloc(Math.floor(random() * 300), 0).map(() => Math.floor(random() * 256))
    if (i % 2) bytes[0] = 0x30 // half of them at least start like a SEQUENCE
    try {
      parseOcspRequest(bytes)
    } catch (error) {
      if (error instanceof OcspMalformedError) rejected++
    }
  }
  t.equal(rejected, 200, 'random bytes are rejected')

  // Single-byte mutations of a real request: either parse or OcspMalformedError, never anything else.
  let other = 0
  for (let i = 0; i < 1000; i++) {
    const copy = Buffer.from(real)
    copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256)
    try {
      parseOcspRequest(copy)
    } catch (error) {
      if (!(error instanceof OcspMalformedError)) other++
    }
  }
  t.equal(other, 0, 'mutations never escape as another error type')
})

t.test('structural limits', async (t) => {
  const [certId] = parseOcspRequest(opensslRequest(['-issuer', caPem, '-cert', goodPem, '-no_nonce'])).certIds
  const requestWith = (count: number, extensions?: Buffer): Buffer => {
    const list = seq(...Array.from({ length: count }, () => seq(certId!.raw)))
    return seq(extensions ? seq(list, explicit(2, extensions)) : seq(list))
  }
  const nonceExt = (nonce: Buffer): Buffer => seq(seq(oid('1.3.6.1.5.5.7.48.1.2'), octets(octets(nonce))))
  t.equal(parseOcspRequest(requestWith(1)).certIds[0]!.serial, '7e57000000000001')
  t.throws(() => parseOcspRequest(requestWith(0)), OcspMalformedError, 'zero requests')
  t.equal(parseOcspRequest(requestWith(100)).certIds.length, 100)
  t.throws(() => parseOcspRequest(requestWith(101)), OcspMalformedError, 'more than 100 requests')
  t.same(parseOcspRequest(requestWith(1, nonceExt(Buffer.alloc(32, 7)))).nonce, octets(Buffer.alloc(32, 7)))
  t.ok(parseOcspRequest(requestWith(1, nonceExt(Buffer.alloc(128, 7)))).nonce, '128-octet nonce accepted')
  t.throws(() => parseOcspRequest(requestWith(1, nonceExt(Buffer.alloc(129, 7)))), OcspMalformedError, 'nonce over 128 octets (RFC 9654)')
  t.throws(() => parseOcspRequest(requestWith(1, nonceExt(Buffer.alloc(0)))), OcspMalformedError, 'empty nonce')
  const good = requestWith(1)
  const indefinite = Buffer.concat([Buffer.from([0x30, 0x80]), good.subarray(2), Buffer.from([0, 0])])
  t.throws(() => parseOcspRequest(indefinite), OcspMalformedError, 'BER indefinite length')
  const longForm = Buffer.concat([Buffer.from([0x30, 0x81, good[1]!]), good.subarray(2)])
  t.throws(() => parseOcspRequest(longForm), OcspMalformedError, 'non-minimal length')
  t.throws(() => parseOcspRequest(seq(seq(explicit(0, tlv(0x02, Buffer.from([1]))), seq(seq(certId!.raw))))), OcspMalformedError, 'version v2')
  t.throws(() => buildOcspResponse({ ...signerArgs(), producedAt: new Date(), answers: [] }), RangeError)
})

t.test('parse + build cost', async (t) => {
  const der = opensslRequest(['-issuer', caPem, '-cert', goodPem, '-nonce'])
  const rounds = 2000
  let start = process.hrtime.bigint()
  for (let i = 0; i < rounds; i++) parseOcspRequest(der)
  const parseUs = Number(process.hrtime.bigint() - start) / 1000 / rounds
  start = process.hrtime.bigint()
  for (let i = 0; i < rounds; i++) answer(parseOcspRequest(der))
  const totalUs = Number(process.hrtime.bigint() - start) / 1000 / rounds
  t.comment(`parse ${parseUs.toFixed(1)} µs, parse + build + P-256 sign ${totalUs.toFixed(1)} µs per response`)
  t.ok(parseUs < 1000, 'parsing stays far below a millisecond')
})
