import { createPrivateKey, generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { children, pemToDer, readOne, readOid } from '../../ca/der.js'
import { OID } from '../../ca/oids.js'
import type { ProfileSigner } from '../../enrollment/bundle-types.js'
import { signAttached } from '../../enrollment/cms-signed-data.js'
import { run, tempDir } from '../support/openssl.js'
import { NOW, skipUnlessTools } from './fixtures/helpers.js'

const skip = skipUnlessTools(t, ['openssl'])

const CONFIG = `[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[signer]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`

/** A throwaway root → intermediate → profile signer made with the openssl CLI (no EKU on the signer, as test-peers.md advises). */
function opensslSigner(t: Test, keyAlg: 'rsa' | 'ec') {
  const dir = tempDir(t)
  const config = dir.file('openssl.cnf', CONFIG)
  const newKey = ['-newkey', ...(keyAlg === 'rsa' ? ['rsa:2048'] : ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256']), '-nodes']
  const make = (name: string, subject: string, ext: string, issuer?: string) => {
    const key = join(dir.dir, `${name}.key`)
    const cert = join(dir.dir, `${name}.pem`)
    const sign = issuer ? ['-CA', join(dir.dir, `${issuer}.pem`), '-CAkey', join(dir.dir, `${issuer}.key`)] : []
    const r = run('openssl', ['req', '-x509', '-config', config, '-extensions', ext, ...newKey, '-keyout', key, '-subj', subject, '-days', '2', ...sign, '-out', cert])
    if (r.status !== 0) throw new Error(`openssl req: ${r.stderr}`)
    return { key, cert, der: pemToDer(readFileSync(cert, 'utf8'), 'CERTIFICATE') }
  }
  const root = make('root', '/O=Test/CN=Profile Root', 'ca')
  const intermediate = make('intermediate', '/O=Test/CN=Profile Intermediate', 'ca', 'root')
  const leaf = make('signer', '/O=Test/CN=Profile Signer', 'signer', 'intermediate')
  const signer: ProfileSigner = { certificate: leaf.der, privateKey: createPrivateKey(readFileSync(leaf.key)), chain: [intermediate.der, root.der] }
  return { dir, root, signer }
}

const content = Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict><key>k</key><string>鍵</string></dict></plist>\n')

for (const keyAlg of ['rsa', 'ec'] as const) {
  t.test(`ok/${keyAlg} signer: openssl cms -verify with the chain, content round-trips, a flipped byte fails`, { skip }, async (t) => {
    const { dir, root, signer } = opensslSigner(t, keyAlg)
    const signed = signAttached(content, signer, NOW)
    const file = dir.file('signed.der', signed)
    const out = join(dir.dir, 'content.out')
    const v = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', root.cert, '-purpose', 'any', '-out', out])
    t.equal(v.status, 0, `verification succeeds: ${v.stderr.trim()}`)
    t.match(v.stderr, 'Verification successful')
    t.ok(readFileSync(out).equals(content), 'encapsulated content equals the input')

    // Without the intermediate in the CMS the chain cannot be built from the root alone.
    const noChain = dir.file('nochain.der', signAttached(content, { ...signer, chain: [] }, NOW))
    t.not(run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', noChain, '-CAfile', root.cert, '-purpose', 'any', '-out', '/dev/null']).status, 0, 'the chain in the CMS is what makes it verify')

    // One flipped byte inside the content: the digest no longer matches.
    const at = signed.indexOf(Buffer.from('鍵'))
    t.ok(at > 0, 'content is attached in the clear')
    const tampered = Buffer.from(signed)
    tampered[at] = tampered[at]! ^ 0x01
    const bad = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', dir.file('tampered.der', tampered), '-CAfile', root.cert, '-purpose', 'any', '-out', '/dev/null'])
    t.not(bad.status, 0, 'tampered content fails')
    t.match(bad.stderr, /verification failure|digest failure/i)

    // Signed attributes as OpenSSL reads them.
    const printed = run('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', file])
    t.equal(printed.status, 0)
    t.match(printed.stdout, 'contentType: pkcs7-signedData')
    t.match(printed.stdout, /signingTime[\s\S]*UTCTIME:Jun\s+1 09:30:00 2026 GMT/)
    t.match(printed.stdout, 'messageDigest')
    t.match(printed.stdout, keyAlg === 'rsa' ? 'algorithm: rsaEncryption' : 'algorithm: ecdsa-with-SHA256')
  })
}

t.test('ok/DER structure: versions, SET OF sorted, issuerAndSerialNumber', { skip }, async (t) => {
  const { signer } = opensslSigner(t, 'ec')
  const signed = signAttached(content, signer, NOW)
  const [type, wrapped] = children(readOne(signed))
  t.equal(readOid(type!), OID.signedData)
  const [version, digestAlgs, encap, certs, signerInfos] = children(children(wrapped!)[0]!)
  t.same(version!.value, Buffer.from([1]), 'SignedData version 1')
  t.equal(digestAlgs!.tag, 0x31)
  t.equal(readOid(children(encap!)[0]!), OID.data, 'eContentType id-data')
  t.equal(certs!.tag, 0xa0, 'certificates [0] IMPLICIT')
  const certDers = children(certs!).map((c) => c.raw)
  t.equal(certDers.length, 3, 'signer + intermediate + root')
  t.same(certDers, [...certDers].sort(Buffer.compare), 'certificates DER-sorted (SET OF)')
  const [siVersion, sid, , signedAttrs] = children(children(signerInfos!)[0]!)
  t.same(siVersion!.value, Buffer.from([1]), 'SignerInfo version 1')
  const signerTbs = children(children(readOne(signer.certificate))[0]!)
  t.ok(children(sid!)[0]!.raw.equals(signerTbs[3]!.raw), 'sid issuer = signer certificate issuer')
  t.ok(children(sid!)[1]!.raw.equals(signerTbs[1]!.raw), 'sid serial = signer certificate serial')
  const attrs = children(signedAttrs!)
  t.same(attrs.map((a) => readOid(children(a)[0]!)).sort(), [OID.contentType, OID.messageDigest, OID.signingTime].sort())
  t.same(attrs.map((a) => a.raw), [...attrs.map((a) => a.raw)].sort(Buffer.compare), 'signed attributes DER-sorted')
})

t.test('fail/a key that does not match the signer certificate, or an unsupported key', { skip }, async (t) => {
  const { signer } = opensslSigner(t, 'ec')
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  t.throws(() => signAttached(content, { ...signer, privateKey: other }, NOW), /does not match/)
  const ed = generateKeyPairSync('ed25519').privateKey
  t.throws(() => signAttached(content, { ...signer, privateKey: ed }, NOW), /does not match|RSA or EC only/)
})
