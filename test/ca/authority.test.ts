import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { createHash, webcrypto } from 'node:crypto'
import t from 'tap'
import {
  Authority,
  CaError,
  createHierarchy,
  derToPem,
  softwareSigner,
  verifyCsr,
  type AuditEvent,
  type PersistIssued,
  SerialConflictError,
  type IssuedCertificate,
} from '../../ca/index.js'
import { opensslCsr, run, tempDir } from '../support/openssl.js'

x509.cryptoProvider.set(webcrypto as Crypto)
const parseCert = (der: Uint8Array): x509.X509Certificate => new x509.X509Certificate(new Uint8Array(der))

const NOW = new Date(Date.UTC(2026, 10, 1, 8, 0, 0))
const URL = 'https://kagi.example.com'

/** Keeps what the authority hands to `persist`, and returns the certificate. */
function memoryStore(): { persist: PersistIssued<IssuedCertificate>; saved: { cert: IssuedCertificate; audit: AuditEvent }[] } {
  const saved: { cert: IssuedCertificate; audit: AuditEvent }[] = []
  return { saved, persist: async (cert, audit) => (saved.push({ cert, audit }), cert) }
}

for (const keyType of ['ecdsa-p256', 'ecdsa-p384', 'rsa-3072'] as const) {
  t.test(`hierarchy/${keyType}`, async (t) => {
    const { root, issuing } = await createHierarchy({ name: 'Example Corp', keyType, publicUrl: URL, now: NOW })
    const rootCert = parseCert(root.certificate.der)
    const issuingCert = parseCert(issuing.certificate.der)
    t.equal(rootCert.subject, 'O=Example Corp, CN=Example Corp Root CA')
    t.equal(issuingCert.issuer, rootCert.subject)
    t.ok(await rootCert.isSelfSigned(), 'root is self-signed')
    t.ok(await issuingCert.verify({ publicKey: rootCert.publicKey, signatureOnly: true }), 'issuing CA signed by root')
    for (const [cert, pathLen] of [[rootCert, 1], [issuingCert, 0]] as const) {
      const bc = cert.getExtension(x509.BasicConstraintsExtension)!
      t.ok(bc.critical, 'basicConstraints critical')
      t.equal(bc.ca, true, 'CA:TRUE')
      t.equal(bc.pathLength, pathLen)
      const ku = cert.getExtension(x509.KeyUsagesExtension)!
      t.ok(ku.critical)
      t.equal(ku.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)
      t.ok(cert.getExtension(x509.SubjectKeyIdentifierExtension))
      t.ok(cert.getExtension(x509.AuthorityKeyIdentifierExtension))
    }
    t.equal(
      issuingCert.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId,
      rootCert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId,
      'issuing AKI = root SKI',
    )
    const dir = tempDir(t)
    const rootPem = dir.file('root.pem', derToPem(root.certificate.der, 'CERTIFICATE'))
    const issuingPem = dir.file('issuing.pem', derToPem(issuing.certificate.der, 'CERTIFICATE'))
    const v = run('openssl', ['verify', '-x509_strict', '-CAfile', rootPem, issuingPem])
    t.equal(v.status, 0, `openssl verify issuing: ${v.stdout}${v.stderr}`)
  })
}

t.test('issue/user from an openssl CSR: names from records, not the CSR', async (t) => {
  const { root, issuing } = await createHierarchy({ name: 'kagi', keyType: 'ecdsa-p256', publicUrl: URL })
  const store = memoryStore()
  const authority = new Authority({ issuing: { certificate: issuing.certificate, signer: softwareSigner(issuing.privateKey) }, publicUrl: URL, caName: 'kagi' })
  const dir = tempDir(t)
  for (const keySpec of ['ec:P-256', 'ec:P-384', 'rsa:2048']) {
    const csr = opensslCsr(dir.dir, keySpec)
    const issued = await authority.issue({
      profile: 'user',
      facts: { email: 'alice@example.com' },
      key: verifyCsr(csr),
      actor: 'test',
    }, store.persist)
    t.match(issued.serial, /^[0-9a-f]{32}$/)
    const cert = parseCert(issued.der)
    t.equal(cert.subject, 'CN=alice@example.com', `${keySpec}: CN from the user record`)
    t.equal(cert.serialNumber.toLowerCase(), issued.serial)
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension)!
    const names = san.names.toJSON()
    t.same(names, [{ type: 'email', value: 'alice@example.com' }, { type: 'upn', value: 'alice@example.com' }], `${keySpec}: SAN email + UPN only`)
    const bc = cert.getExtension(x509.BasicConstraintsExtension)
    t.notOk(bc?.ca, 'CSR basicConstraints CA:TRUE ignored')
    t.same(cert.getExtension(x509.ExtendedKeyUsageExtension)!.usages, ['1.3.6.1.5.5.7.3.2'])
    const ku = cert.getExtension(x509.KeyUsagesExtension)!
    const expectKu = keySpec.startsWith('rsa') ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature
    t.equal(ku.usages, expectKu, `${keySpec}: keyUsage`)
    const days = (cert.notAfter.getTime() - cert.notBefore.getTime()) / 86_400_000
    t.ok(days > 365 && days < 365.01, `validity ~365 days + backdate (${days})`)
    t.equal(cert.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId, parseCert(issuing.certificate.der).getExtension(x509.SubjectKeyIdentifierExtension)!.keyId)
    const cdp = cert.getExtension(x509.CRLDistributionPointsExtension)!
    t.equal(cdp.distributionPoints[0]!.distributionPoint!.fullName![0]!.uniformResourceIdentifier, `${URL}/pki/crl`)
    const aia = cert.getExtension(x509.AuthorityInfoAccessExtension)!
    t.equal(aia.ocsp[0]!.value, `${URL}/ocsp`)
    t.equal(aia.caIssuers[0]!.value, `${URL}/pki/issuing.crt`)
    const spkiHash = createHash('sha1').update(Buffer.from(cert.publicKey.rawData)).digest('hex')
    t.not(spkiHash, '', 'public key present')
    const chain = dir.file('chain.pem', derToPem(issuing.certificate.der, 'CERTIFICATE'))
    const rootPem = dir.file('root.pem', derToPem(root.certificate.der, 'CERTIFICATE'))
    const leaf = dir.file('leaf.pem', derToPem(issued.der, 'CERTIFICATE'))
    const v = run('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', rootPem, '-untrusted', chain, leaf])
    t.equal(v.status, 0, `openssl verify ${keySpec}: ${v.stdout}${v.stderr}`)
  }
  t.equal(store.saved.length, 3)
  t.equal(store.saved[0]!.audit.action, 'certificate.issued')
})

t.test('issue/device: hostname CN, dNSName and device URN', async (t) => {
  const { issuing } = await createHierarchy({ name: 'kagi', keyType: 'ecdsa-p256', publicUrl: URL })
  const authority = new Authority({ issuing: { certificate: issuing.certificate, signer: softwareSigner(issuing.privateKey) }, publicUrl: URL, caName: 'kagi' })
  const store = memoryStore()
  const dir = tempDir(t)
  const key = verifyCsr(opensslCsr(dir.dir, 'ec:P-256'))
  const issued = await authority.issue({ profile: 'device', facts: { hostname: 'Alice-MBP.corp.example.com', deviceId: 'd-123' }, key, actor: 't' }, store.persist)
  const cert = parseCert(issued.der)
  t.equal(cert.subject, 'CN=Alice-MBP.corp.example.com')
  t.same(cert.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON(), [
    { type: 'dns', value: 'alice-mbp.corp.example.com' },
    { type: 'url', value: 'urn:kagi:device:d-123' },
  ])
  const cases: [string, Record<string, string>, RegExp][] = [
    ['fail/device-without-hostname', { deviceId: 'd' }, /requires a hostname/],
    ['fail/bad-hostname', { hostname: 'bad host!', deviceId: 'd' }, /not a DNS host name/],
  ]
  for (const [name, facts, message] of cases) {
    await t.rejects(authority.issue({ profile: 'device', facts, key, actor: 't' }, store.persist), { code: 'profile_violation', message }, name)
  }
  await t.rejects(authority.issue({ profile: 'user', facts: { email: 'nö@example.com' }, key, actor: 't' }, store.persist), { code: 'profile_violation' }, 'fail/non-ascii-email')
})

t.test('csr/policy', async (t) => {
  const dir = tempDir(t)
  const cases: [string, string, RegExp][] = [
    ['fail/rsa-1024', 'rsa:1024', /1024 bits; at least 2048/],
    ['fail/p-521', 'ec:P-521', /curve secp521r1/],
    ['fail/secp256k1', 'ec:secp256k1', /curve secp256k1/],
    ['fail/ed25519', 'ed25519:x', /ed25519 is not accepted/],
  ]
  for (const [name, spec, message] of cases) {
    const csr = opensslCsr(dir.dir, spec)
    t.throws(() => verifyCsr(csr), { code: 'key_rejected', message }, name)
  }
  const good = opensslCsr(dir.dir, 'ec:P-256')
  // Flip one byte inside the signature: the CSR still parses, the proof of possession fails.
  const der = Buffer.from(good.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64')
  der[der.length - 5] = der[der.length - 5]! ^ 0x01
  t.throws(() => verifyCsr(der), { code: 'csr_signature_invalid', message: /does not verify/ }, 'fail/bad-signature')
  // Corrupt the public key's X coordinate: the point leaves the curve and must not be accepted.
  const offCurve = Buffer.from(der)
  const pointAt = offCurve.indexOf(Buffer.from([0x03, 0x42, 0x00, 0x04]))
  offCurve[pointAt + 10] = offCurve[pointAt + 10]! ^ 0xff
  t.throws(() => verifyCsr(offCurve), { code: /key_rejected|csr_signature_invalid/ }, 'fail/point-off-curve')
  t.throws(() => verifyCsr('hello'), { code: 'csr_invalid' }, 'fail/not-pem')
  t.throws(() => verifyCsr(Buffer.from([0x30, 0x03, 0x02, 0x01])), { code: 'csr_invalid' }, 'fail/truncated-der')
  t.throws(() => verifyCsr('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----'), { code: 'csr_invalid' }, 'fail/garbage-pem')
  t.ok(verifyCsr(der.length ? good : good), 'ok/p256')
  t.ok(CaError)
})

t.test('ca keys at rest: PBES2 that openssl reads, async and sync decryption', async (t) => {
  const { generateKeyPairSync } = await import('node:crypto')
  const { encryptPrivateKey, decryptPrivateKey, decryptPrivateKeyAsync } = await import('../../ca/index.js')
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pem = await encryptPrivateKey(privateKey, 'correct horse', 1000)
  t.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/)
  const dir = tempDir(t)
  const info = run('openssl', ['asn1parse', '-in', dir.file('k.pem', pem)])
  t.match(info.stdout, /PBES2[\s\S]*PBKDF2[\s\S]*hmacWithSHA256[\s\S]*aes-256-cbc/, 'PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC')
  const out = run('openssl', ['pkey', '-in', dir.file('k2.pem', pem), '-passin', 'pass:correct horse', '-pubout'])
  t.equal(out.status, 0, 'openssl decrypts it')
  const expected = privateKey.export({ type: 'pkcs8', format: 'der' })
  t.ok((await decryptPrivateKeyAsync(pem, 'correct horse')).export({ type: 'pkcs8', format: 'der' }).equals(expected))
  t.ok(decryptPrivateKey(pem, 'correct horse').export({ type: 'pkcs8', format: 'der' }).equals(expected))
  await t.rejects(decryptPrivateKeyAsync(pem, 'wrong'), { code: 'ca_passphrase_wrong' })
  t.throws(() => decryptPrivateKey(pem, 'wrong'), { code: 'ca_passphrase_wrong' })
  t.notMatch(pem, /BEGIN PRIVATE KEY/)
})

t.test('crl/100k-entries', async (t) => {
  const { buildCrl, parseCrl } = await import('../../ca/index.js')
  const { issuing } = await createHierarchy({ name: 'kagi', keyType: 'ecdsa-p256', publicUrl: URL })
  const entries = Array.from({ length: 100_000 }, (_, i) => ({
    serial: `4${i.toString(16).padStart(31, '0')}`,
    revokedAt: new Date(Date.UTC(2026, 0, 1) + i * 1000),
    reason: i % 2 ? ('keyCompromise' as const) : ('unspecified' as const),
  }))
  const der = buildCrl({ issuer: issuing.certificate, signer: softwareSigner(issuing.privateKey), crlNumber: 7, thisUpdate: NOW, nextUpdate: new Date(NOW.getTime() + 86_400_000), entries })
  const parsed = parseCrl(der)
  t.equal(parsed.crlNumber, 7)
  t.equal(parsed.entries.length, 100_000)
  t.same(parsed.entries[1], entries[1])
  const dir = tempDir(t)
  const issuingPem = dir.file('issuing.pem', derToPem(issuing.certificate.der, 'CERTIFICATE'))
  const r = run('openssl', ['crl', '-inform', 'DER', '-in', dir.file('big.crl', der), '-noout', '-CAfile', issuingPem, '-crlnumber'])
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout + r.stderr, /verify OK/)
  t.match(r.stdout, /crlNumber=0x07/)
})

t.test('issue/serial collision: signed again with a new serial, at most three times', async (t) => {
  const { issuing } = await createHierarchy({ name: 'kagi', keyType: 'ecdsa-p256', publicUrl: URL })
  const authority = new Authority({ issuing: { certificate: issuing.certificate, signer: softwareSigner(issuing.privateKey) }, publicUrl: URL, caName: 'kagi' })
  const key = verifyCsr(opensslCsr(tempDir(t).dir, 'ec:P-256'))
  const request = { profile: 'user' as const, facts: { email: 'alice@example.com' }, key, actor: 't' }
  const seen: string[] = []
  const collideOnce: PersistIssued<IssuedCertificate> = async (cert) => {
    seen.push(cert.serial)
    if (seen.length === 1) throw new SerialConflictError(cert.serial)
    return cert
  }
  const issued = await authority.issue(request, collideOnce)
  t.equal(seen.length, 2, 'persisted twice')
  t.not(seen[0], seen[1], 'with a new serial')
  t.equal(issued.serial, seen[1])
  let attempts = 0
  const gaveUp = await authority
    .issue(request, async (cert) => {
      attempts++
      throw new SerialConflictError(cert.serial)
    })
    .catch((error: unknown) => error)
  t.ok(gaveUp instanceof SerialConflictError, 'the last collision is reported')
  t.equal(attempts, 3, 'gives up after three collisions')
  let other = 0
  await t.rejects(
    authority.issue(request, async () => {
      other++
      throw new Error('disk full')
    }),
    /disk full/,
  )
  t.equal(other, 1, 'any other error is not retried')
})
