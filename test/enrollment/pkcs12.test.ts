import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import { pemToDer } from '../../ca/der.js'
import { buildPkcs12 } from '../../enrollment/pkcs12.js'
import { run, tempDir } from '../support/openssl.js'

type KeyType = 'rsa-2048' | 'ec-p256' | 'ec-p384'

function newKey(type: KeyType): KeyObject {
  if (type === 'rsa-2048') return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  return generateKeyPairSync('ec', { namedCurve: type === 'ec-p256' ? 'P-256' : 'P-384' }).privateKey
}

const spki = (key: KeyObject): Buffer => createPublicKey(key).export({ type: 'spki', format: 'der' })

const CONFIG = `[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
`

/** A root CA, optionally an issuing CA under it, and a leaf, all made by the openssl CLI. */
function makePki(t: { teardown: (fn: () => void) => void }, leafType: KeyType, caType: KeyType, withIssuing: boolean) {
  const tmp = tempDir(t)
  const config = tmp.file('openssl.cnf', CONFIG)
  const issue = (name: string, key: KeyObject, subject: string, ext: 'ca' | 'leaf', issuer?: { cert: string; key: string }) => {
    const keyPath = tmp.file(`${name}.key`, key.export({ type: 'pkcs8', format: 'pem' }))
    const certPath = join(tmp.dir, `${name}.crt`)
    const signer = issuer ? ['-CA', issuer.cert, '-CAkey', issuer.key] : []
    const r = run('openssl', ['req', '-new', '-x509', '-config', config, '-extensions', ext, '-key', keyPath, '-subj', subject, '-days', '2', ...signer, '-out', certPath])
    if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`)
    return { cert: certPath, key: keyPath }
  }
  const der = (path: string): Buffer => pemToDer(run('openssl', ['x509', '-in', path]).stdout, 'CERTIFICATE')
  const root = issue('root', newKey(caType), '/O=Example/CN=Example Root CA', 'ca')
  const issuing = withIssuing ? issue('issuing', newKey(caType), '/O=Example/CN=Example Issuing CA', 'ca', root) : root
  const leafKey = newKey(leafType)
  const leaf = issue('leaf', leafKey, '/CN=alice@example.com', 'leaf', issuing)
  return {
    tmp,
    leafKey,
    leaf: der(leaf.cert),
    chain: withIssuing ? [der(issuing.cert), der(root.cert)] : [der(root.cert)],
  }
}

/** PEM blocks of `openssl pkcs12 -nodes` output, each with the "Bag Attributes" text printed before it. */
function bags(output: string): { attributes: string; label: string; der: Buffer }[] {
  const out: { attributes: string; label: string; der: Buffer }[] = []
  const re = /Bag Attributes([\s\S]*?)(-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \3-----)/g
  for (let m = re.exec(output); m; m = re.exec(output)) out.push({ attributes: m[1]!, label: m[3]!, der: pemToDer(m[2]!) })
  return out
}

const cases = [
  { name: 'RSA-2048 leaf, RSA CA', leaf: 'rsa-2048', ca: 'rsa-2048', issuing: false, password: 'correct horse battery', iterations: undefined },
  { name: 'EC P-256 leaf, EC P-256 chain', leaf: 'ec-p256', ca: 'ec-p256', issuing: true, password: 's3cret!', iterations: 1000 },
  { name: 'empty password (ONC), EC P-384 leaf', leaf: 'ec-p384', ca: 'ec-p256', issuing: true, password: '', iterations: undefined },
  { name: 'non-ASCII password, RSA leaf, EC chain', leaf: 'rsa-2048', ca: 'ec-p384', issuing: true, password: 'pässwörd-鍵', iterations: 1 },
] as const

for (const c of cases) {
  t.test(c.name, async (t) => {
    const pki = makePki(t, c.leaf, c.ca, c.issuing)
    const friendlyName = 'alice@example.com (kagi)'
    const pfx = buildPkcs12({ privateKey: pki.leafKey, certificate: pki.leaf, chain: pki.chain, friendlyName, password: c.password, iterations: c.iterations })
    t.equal(pfx[0], 0x30, 'DER SEQUENCE')
    const file = pki.tmp.file('out.p12', pfx)
    const iterations = c.iterations ?? 2048

    // Structure as OpenSSL 3 reports it, with no -legacy.
    const info = run('openssl', ['pkcs12', '-info', '-noout', '-in', file, '-passin', `pass:${c.password}`])
    t.equal(info.status, 0, 'openssl pkcs12 -info succeeds', { stderr: info.stderr })
    const log = info.stdout + info.stderr
    t.match(log, `MAC: sha1, Iteration ${iterations}`)
    t.match(log, 'MAC length: 20, salt length: 8')
    t.match(log, `PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration ${iterations}`)
    t.match(log, `Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration ${iterations}`)
    t.notMatch(log, /RC2|Error|error/)

    // Contents: the key, the leaf and every chain certificate, with attributes.
    const dump = run('openssl', ['pkcs12', '-in', file, '-nodes', '-passin', `pass:${c.password}`])
    t.equal(dump.status, 0, 'openssl pkcs12 -nodes succeeds', { stderr: dump.stderr })
    const found = bags(dump.stdout)
    const keys = found.filter((b) => b.label === 'PRIVATE KEY')
    const certs = found.filter((b) => b.label === 'CERTIFICATE')
    t.equal(keys.length, 1, 'one private key')
    t.same(spki(createPrivateKey({ key: keys[0]!.der, format: 'der', type: 'pkcs8' })), spki(pki.leafKey), 'extracted key matches the original')
    t.same(certs.map((b) => b.der.toString('hex')), [pki.leaf, ...pki.chain].map((d) => d.toString('hex')), 'leaf then chain, in order')

    const keyId = createHash('sha1').update(pki.leaf).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1 ')
    for (const bag of [keys[0]!, certs[0]!]) {
      t.match(bag.attributes, `friendlyName: ${friendlyName}`, `${bag.label} has friendlyName`)
      t.match(bag.attributes, `localKeyID: ${keyId}`, `${bag.label} has localKeyID = SHA-1(leaf)`)
    }
    for (const bag of certs.slice(1)) t.match(bag.attributes, '<No Attributes>', 'CA bags carry no attributes')

    // A wrong password fails the MAC check.
    const wrong = run('openssl', ['pkcs12', '-info', '-noout', '-in', file, '-passin', `pass:${c.password}x`])
    t.not(wrong.status, 0, 'wrong password is rejected')
    t.match(wrong.stderr, /Mac verify error/, 'openssl reports a MAC verify error')
  })
}

t.test('empty password uses the BMPString-with-trailing-zero convention for MAC and encryption', async (t) => {
  const pki = makePki(t, 'ec-p256', 'ec-p256', false)
  const pfx = buildPkcs12({ privateKey: pki.leafKey, certificate: pki.leaf, chain: pki.chain, friendlyName: 'x', password: '' })
  const file = pki.tmp.file('empty.p12', pfx)
  // Without MAC verification OpenSSL does not fall back to the zero-length
  // ("NULL") password, so this succeeds only if the bags were encrypted with 00 00.
  const r = run('openssl', ['pkcs12', '-in', file, '-nodes', '-nomacver', '-passin', 'pass:'])
  t.equal(r.status, 0, 'decrypts with -nomacver -passin pass:', { stderr: r.stderr })
  t.match(r.stdout, '-----BEGIN PRIVATE KEY-----')
  t.equal(bags(r.stdout).filter((b) => b.label === 'CERTIFICATE').length, 2, 'leaf and CA')
  // And the MAC verifies (OpenSSL tries the NULL form first, then falls back to 00 00).
  const info = run('openssl', ['pkcs12', '-info', '-noout', '-in', file, '-passin', 'pass:'])
  t.equal(info.status, 0, 'MAC verifies with -passin pass:', { stderr: info.stderr })
  t.match(info.stdout + info.stderr, 'MAC: sha1, Iteration 2048')
})

t.test('rejects a key that does not match the leaf, and bad iteration counts', async (t) => {
  const pki = makePki(t, 'ec-p256', 'ec-p256', false)
  const input = { privateKey: newKey('ec-p256'), certificate: pki.leaf, chain: pki.chain, friendlyName: 'x', password: 'p' }
  t.throws(() => buildPkcs12(input), /does not match/)
  t.throws(() => buildPkcs12({ ...input, privateKey: pki.leafKey, iterations: 0 }), RangeError)
  t.throws(() => buildPkcs12({ ...input, privateKey: createPublicKey(pki.leafKey) }), TypeError)
})
