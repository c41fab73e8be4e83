import { readFileSync } from 'node:fs'
import t from 'tap'
import { validateCaImport, type CaImportInput } from '../../ca/ca-import.js'
import { certificateInfo } from '../../ca/certificate-info.js'
import { pemToDer } from '../../ca/der.js'
import { run, tempDir } from '../support/openssl.js'

// Test material, made once with openssl: Acme Root → Acme Devices (the issuing CA to import),
// and around it what must be refused.
const tmp = tempDir(t)
const f = (name: string) => `${tmp.dir}/${name}`
const pem = (name: string) => readFileSync(f(name), 'utf8')
function openssl(...args: string[]): void {
  const r = run('openssl', args)
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`)
}
tmp.file(
  'ext.cnf',
  '[req]\ndistinguished_name=dn\n[dn]\n' +
    '[root]\nbasicConstraints=critical,CA:TRUE,pathlen:1\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' +
    '[int]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' +
    '[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n',
)
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']
function selfSigned(name: string, subject: string, key = ec): void {
  openssl('req', '-x509', ...key, '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.pem`), '-subj', subject, '-days', '3650', '-config', f('ext.cnf'), '-extensions', 'root')
}
function signed(name: string, subject: string, issuer: string, extensions: string, days = '1825'): void {
  openssl('req', '-new', ...ec, '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', subject, '-config', f('ext.cnf'))
  openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${issuer}.pem`), '-CAkey', f(`${issuer}.key`), '-out', f(`${name}.pem`), '-days', days, '-extfile', f('ext.cnf'), '-extensions', extensions)
}
selfSigned('root', '/O=Acme/CN=Acme Root')
signed('int', '/O=Acme/CN=Acme Devices', 'root', 'int', '30')
signed('sub', '/O=Acme/CN=Acme Laptops', 'int', 'int')
signed('leaf', '/CN=not-a-ca.example', 'int', 'leaf')
// Same name as the root, another key: the issuer name matches, the signature cannot.
selfSigned('impostor', '/O=Acme/CN=Acme Root')
selfSigned('rsa2048', '/O=Acme/CN=Small RSA', ['-newkey', 'rsa:2048'])
openssl('pkey', '-in', f('int.key'), '-out', f('int-encrypted.key'), '-aes256', '-passout', 'pass:secret')

const der = (name: string) => pemToDer(pem(`${name}.pem`), 'CERTIFICATE')
const input = (certs: string[], key: string, extra: Partial<CaImportInput> = {}): CaImportInput => ({ certPem: certs.map(pem).join(''), keyPem: pem(key), ...extra })
const invalid = (message: RegExp | string) => ({ name: 'CaError', code: 'ca_import_invalid', message })

t.test('a two-tier chain: issuing CA first, then its root', async (t) => {
  const ca = await validateCaImport(input(['int.pem', 'root.pem'], 'int.key'))
  t.ok(ca.issuing.der.equals(der('int')))
  t.ok(ca.root.der.equals(der('root')))
  t.equal(ca.keyType, 'ecdsa-p256')
  t.equal(ca.rootIsIssuing, false, 'the root key is not ours')
  t.ok(ca.key.export({ type: 'pkcs8', format: 'der' }).equals(readKeyDer('int.key')), 'the issuing key, decrypted')
  const separate = await validateCaImport({ certPem: pem('int.pem'), rootPem: pem('root.pem'), keyPem: pem('int.key') })
  t.ok(separate.root.der.equals(der('root')), 'the root may come from --root')
  const encrypted = await validateCaImport(input(['int.pem', 'root.pem'], 'int-encrypted.key', { keyPassphrase: 'secret' }))
  t.ok(encrypted.issuing.der.equals(der('int')), 'an encrypted key with its passphrase')
})

t.test('a self-signed issuing CA is its own root', async (t) => {
  const ca = await validateCaImport(input(['root.pem'], 'root.key'))
  t.equal(ca.rootIsIssuing, true)
  t.ok(ca.root.der.equals(ca.issuing.der))
  t.ok(ca.issuing.isCa)
})

t.test('refused, saying why', async (t) => {
  await t.rejects(validateCaImport({ certPem: 'no certificate here', keyPem: pem('int.key') }), invalid('no PEM certificate found in --cert'))
  await t.rejects(validateCaImport(input(['leaf.pem', 'int.pem', 'root.pem'], 'leaf.key')), invalid(/is not a CA \(basicConstraints CA:TRUE is missing\)/), 'not a CA')
  const expiry = certificateInfo(der('int')).notAfter
  await t.rejects(
    validateCaImport(input(['int.pem', 'root.pem'], 'int.key'), new Date(expiry.getTime() + 1000)),
    invalid(`the CA certificate expired on ${expiry.toISOString()}`),
    'expired',
  )
  await t.rejects(validateCaImport(input(['int.pem', 'root.pem'], 'root.key')), invalid('the private key does not belong to the CA certificate'), 'wrong key')
  await t.rejects(validateCaImport({ ...input(['int.pem', 'root.pem'], 'int.key'), keyPem: 'garbage' }), invalid(/private key could not be read/), 'unreadable key')
  await t.rejects(validateCaImport(input(['int.pem', 'root.pem'], 'int-encrypted.key')), invalid(/pass --key-passphrase-file/), 'encrypted key without passphrase')
  await t.rejects(validateCaImport(input(['rsa2048.pem'], 'rsa2048.key')), invalid(/the CA key is rsa-2048; kagi signs with/), 'a key type kagi does not sign with')
  await t.rejects(validateCaImport(input(['int.pem'], 'int.key')), invalid(/the chain has no self-signed root/), 'no root')
  await t.rejects(
    validateCaImport(input(['sub.pem', 'int.pem', 'root.pem'], 'sub.key')),
    invalid('the issuing CA must be signed directly by the root; "O=Acme, CN=Acme Devices" is not the self-signed root in the chain (kagi keeps a two-tier hierarchy)'),
    'three tiers',
  )
  await t.rejects(
    validateCaImport(input(['int.pem', 'impostor.pem'], 'int.key')),
    invalid('the signature on "O=Acme, CN=Acme Devices" does not verify with "O=Acme, CN=Acme Root"'),
    'a root with the right name and the wrong key',
  )
})

function readKeyDer(name: string): Buffer {
  return pemToDer(pem(name), 'PRIVATE KEY')
}
