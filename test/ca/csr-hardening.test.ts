/**
 * CSR hardening (issue 11): named curves only (RFC 5480 §2.1.1), SHA-2
 * signatures only, and compressed EC points (RFC 5480 §2.2) uncompressed in
 * the issued certificate. Every hostile CSR is made by openssl, as a client
 * would make it.
 */
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { createPublicKey, webcrypto } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import { Authority, createHierarchy, derToPem, pemToDer, softwareSigner, verifyCsr, type IssuedCertificate, type PersistIssued } from '../../ca/index.js'
import { children, readOne } from '../../ca/der.js'
import { run, tempDir } from '../support/openssl.js'

x509.cryptoProvider.set(webcrypto as Crypto)
const URL = 'https://kagi.example.com'

function openssl(args: string[]): string {
  const r = run('openssl', args)
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/**
 * A CSR from an openssl EC key: `encoding` is the ecparam -param_enc, `form`
 * the -conv_form of the public point, `digest` the req signature digest.
 */
function ecCsr(dir: string, options: { curve?: string; encoding?: 'named_curve' | 'explicit'; form?: 'uncompressed' | 'compressed' | 'hybrid'; digest?: string } = {}): string {
  const { curve = 'prime256v1', encoding = 'named_curve', form = 'uncompressed', digest = 'sha256' } = options
  const base = join(dir, `ec-${curve}-${encoding}-${form}-${digest}`)
  openssl(['ecparam', '-name', curve, '-param_enc', encoding, '-genkey', '-noout', '-out', `${base}.raw.key`])
  openssl(['ec', '-in', `${base}.raw.key`, '-conv_form', form, '-param_enc', encoding, '-out', `${base}.key`])
  return openssl(['req', '-new', '-key', `${base}.key`, `-${digest}`, '-subj', '/CN=ignored.example'])
}

/** A CSR from a new RSA key signed with `digest`. */
function rsaCsr(dir: string, digest: string): string {
  return openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, `rsa-${digest}.key`), `-${digest}`, '-subj', '/CN=ignored.example'])
}

/** The ECPoint's first octet in a SubjectPublicKeyInfo (04 uncompressed, 02/03 compressed). */
const pointForm = (spki: Uint8Array): number => children(readOne(Buffer.from(spki)))[1]!.value[1]!

t.test('csr/ec-parameters: only a named curve (RFC 5480 §2.1.1)', async (t) => {
  const dir = tempDir(t).dir
  for (const curve of ['prime256v1', 'secp384r1']) {
    t.throws(() => verifyCsr(ecCsr(dir, { curve, encoding: 'explicit' })), { code: 'key_rejected', message: /explicit \(specified\) curve parameters; RFC 5480 §2\.1\.1 allows only a named curve/ }, `fail/explicit-${curve}`)
    t.equal(verifyCsr(ecCsr(dir, { curve })).keyDescription, curve === 'prime256v1' ? 'ecdsa-p256' : 'ecdsa-p384', `ok/named-${curve}`)
  }
})

t.test('csr/signature-hash: SHA-1 refused, SHA-2 accepted', async (t) => {
  const dir = tempDir(t).dir
  const message = 'the CSR is signed with SHA-1; sign it with SHA-256 or stronger (SHA-2)'
  t.throws(() => verifyCsr(rsaCsr(dir, 'sha1')), { code: 'csr_signature_invalid', message }, 'fail/rsa-sha1')
  t.throws(() => verifyCsr(ecCsr(dir, { digest: 'sha1' })), { code: 'csr_signature_invalid', message }, 'fail/ecdsa-sha1')
  for (const digest of ['sha256', 'sha384', 'sha512']) {
    t.ok(verifyCsr(rsaCsr(dir, digest)), `ok/rsa-${digest}`)
    t.ok(verifyCsr(ecCsr(dir, { digest })), `ok/ecdsa-${digest}`)
  }
})

t.test('csr/point-form: a compressed point is uncompressed in the certificate, hybrid is refused', async (t) => {
  const dir = tempDir(t)
  const { root, issuing } = await createHierarchy({ name: 'kagi', keyType: 'ecdsa-p256', publicUrl: URL })
  const authority = new Authority({ issuing: { certificate: issuing.certificate, signer: softwareSigner(issuing.privateKey) }, publicUrl: URL, caName: 'kagi' })
  const persist: PersistIssued<IssuedCertificate> = async (cert) => cert
  for (const [curve, spkiLength] of [['prime256v1', 91], ['secp384r1', 120]] as const) {
    const csr = ecCsr(dir.dir, { curve, form: 'compressed' })
    const requested = Buffer.from(openssl(['req', '-in', dir.file(`${curve}.csr`, csr), '-pubkey', '-noout']).replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64')
    t.ok([2, 3].includes(pointForm(requested)), `${curve}: openssl made a compressed point`)
    const key = verifyCsr(csr)
    t.equal(key.publicKeyInfo.length, spkiLength, `${curve}: the verified SPKI has the uncompressed length`)
    t.equal(pointForm(key.publicKeyInfo), 4, `${curve}: 04 point`)
    t.same(createPublicKey({ key: key.publicKeyInfo, format: 'der', type: 'spki' }).export({ format: 'jwk' }), createPublicKey({ key: requested, format: 'der', type: 'spki' }).export({ format: 'jwk' }), `${curve}: the same key`)
    const issued = await authority.issue({ profile: 'user', facts: { email: 'alice@example.com' }, key, actor: 't' }, persist)
    const cert = new x509.X509Certificate(new Uint8Array(issued.der))
    t.equal(pointForm(new Uint8Array(cert.publicKey.rawData)), 4, `${curve}: the certificate carries the uncompressed point`)
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId
    t.equal(ski, Buffer.from(await cert.publicKey.getKeyIdentifier('SHA-1')).toString('hex'), `${curve}: SKI is of the certificate's key`)
    const rootPem = dir.file('root.pem', derToPem(root.certificate.der, 'CERTIFICATE'))
    const chain = dir.file('issuing.pem', derToPem(issuing.certificate.der, 'CERTIFICATE'))
    const v = run('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', rootPem, '-untrusted', chain, dir.file(`${curve}.crt`, derToPem(issued.der, 'CERTIFICATE'))])
    t.equal(v.status, 0, `${curve}: openssl verify: ${v.stdout}${v.stderr}`)
  }
  t.throws(() => verifyCsr(ecCsr(dir.dir, { form: 'hybrid' })), { code: 'key_rejected', message: /neither uncompressed \(04\) nor compressed/ }, 'fail/hybrid-point')
})

t.test('csr/curve-oid: a curve OID that ends in the middle of an arc is key_rejected, not an internal error (found by npm run fuzz)', async (t) => {
  const dir = tempDir(t).dir
  const der = pemToDer(ecCsr(dir), 'CERTIFICATE REQUEST')
  const prime256v1 = Buffer.from('06082a8648ce3d030107', 'hex')
  const at = der.indexOf(prime256v1)
  t.ok(at > 0, 'the named curve is in the CSR')
  const broken = Buffer.from(der)
  broken[at + prime256v1.length - 1] = 0x87 // the last arc's continuation bit set: the OID ends mid-arc
  t.throws(() => verifyCsr(broken), { code: 'key_rejected', message: /malformed OBJECT IDENTIFIER/ })
})

t.test('csr/point-off-curve: an uncompressed point that is not on its curve is key_rejected, not a bad signature', async (t) => {
  const dir = tempDir(t).dir
  for (const [curve, size] of [['prime256v1', 32], ['secp384r1', 48]] as const) {
    const der = pemToDer(ecCsr(dir, { curve }), 'CERTIFICATE REQUEST')
    const spki = children(children(readOne(der))[0]!)[2]!
    const pointEnd = spki.raw.byteOffset - der.byteOffset + spki.raw.length
    t.equal(der[pointEnd - (1 + 2 * size)], 0x04, `${curve}: the uncompressed point ends the SPKI`)
    const offCurve = Buffer.from(der)
    offCurve[pointEnd - 1] = offCurve[pointEnd - 1]! ^ 0x01 // y changed: (x, y') is off the curve (a point has one y per sign)
    t.throws(() => verifyCsr(offCurve), { code: 'key_rejected', message: /malformed/ }, `fail/${curve}-off-curve`)
  }
})
