import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import { children, pemToDer, readOne } from '../../ca/der.js'
import { derivedKey, keyForEncryption } from '../../ca/key-derivation.js'
import { decryptPrivateKeyAsync, decryptSecret, encryptPrivateKey, encryptSecret } from '../../ca/key-encryption.js'
import { run, tempDir } from '../support/openssl.js'

// One PBKDF2 run per passphrase and salt in a process (ca/key-derivation.ts): what one process encrypts shares a
// salt, each blob keeps its own IV, a wrong passphrase is still refused, and openssl still reads every blob.

const ITERATIONS = 1000
const spki = (key: KeyObject): string => createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('hex')

/** salt, iv and ciphertext of an ENCRYPTED PRIVATE KEY PEM (RFC 8018 PBES2-params). */
function partsOf(pem: string): { salt: string; iv: string; data: string } {
  const [algorithm, data] = children(readOne(pemToDer(pem, 'ENCRYPTED PRIVATE KEY')))
  const [, params] = children(algorithm!)
  const [kdf, cipher] = children(params!)
  const [saltNode] = children(children(kdf!)[1]!)
  const [, ivNode] = children(cipher!)
  return { salt: saltNode!.value.toString('hex'), iv: ivNode!.value.toString('hex'), data: data!.value.toString('hex') }
}

t.test('keys one process encrypts share a salt, never an IV, and each decrypts (in kagi and in openssl)', async (t) => {
  const passphrase = `shared salt ${Math.random()}`
  const keys = [0, 1, 2].map(() => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)
  const pems = await Promise.all(keys.map((k) => encryptPrivateKey(k, passphrase, ITERATIONS)))
  const parts = pems.map(partsOf)
  t.equal(new Set(parts.map((p) => p.salt)).size, 1, 'one salt, even for encryptions started together')
  t.equal(new Set(parts.map((p) => p.iv)).size, 3, 'a random IV each')
  const secret = await encryptSecret(Buffer.from('session key'), passphrase, ITERATIONS)
  t.equal(Buffer.from(secret.split('$')[2]!, 'base64url').toString('hex'), parts[0]!.salt, 'a secret shares it too')
  for (const [i, pem] of pems.entries()) {
    t.equal(spki(await decryptPrivateKeyAsync(pem, passphrase)), spki(keys[i]!), `key ${i} decrypts to itself`)
  }
  t.same(await decryptSecret(secret, passphrase), Buffer.from('session key'))
  const dir = tempDir(t)
  const out = run('openssl', ['pkey', '-in', dir.file('k.pem', pems[2]!), '-passin', `pass:${passphrase}`, '-pubout', '-outform', 'DER'])
  t.equal(out.status, 0, `openssl decrypts a key with a shared salt: ${out.stderr}`)
})

t.test('a wrong passphrase is refused although the salt\'s key for the right one is kept', async (t) => {
  const passphrase = `right ${Math.random()}`
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  const pem = await encryptPrivateKey(key, passphrase, ITERATIONS)
  const secret = await encryptSecret(Buffer.from('s'), passphrase, ITERATIONS)
  await decryptPrivateKeyAsync(pem, passphrase)
  await t.rejects(decryptPrivateKeyAsync(pem, `${passphrase}x`), { code: 'ca_passphrase_wrong' })
  await t.rejects(decryptSecret(secret, `${passphrase}x`), { code: 'ca_passphrase_wrong' })
  // The wrong passphrase was derived with this salt just now; what it encrypts still needs it, not the right one.
  const other = await encryptPrivateKey(key, `${passphrase}x`, ITERATIONS)
  t.equal(partsOf(other).salt, partsOf(pem).salt)
  await t.rejects(decryptPrivateKeyAsync(other, passphrase), { code: 'ca_passphrase_wrong' }, 'a salt shared across passphrases shares no key')
  t.not(keyForEncryption(`never used ${Math.random()}`, ITERATIONS).salt.toString('hex'), partsOf(pem).salt, 'a new passphrase draws a new salt')
  t.not(keyForEncryption(passphrase, ITERATIONS * 2).salt.toString('hex'), partsOf(pem).salt, 'so does another iteration count')
})

t.test('decrypting a stored key makes its salt the one later encryptions use, and derives its key once', async (t) => {
  const passphrase = `stored ${Math.random()}`
  const dir = tempDir(t)
  // Written elsewhere (by openssl): a salt this process has never derived.
  const made = run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-aes-256-cbc', '-pass', `pass:${passphrase}`, '-out', join(dir.dir, 'k.pem')])
  t.equal(made.status, 0, made.stderr)
  const converted = run('openssl', ['pkcs8', '-topk8', '-in', join(dir.dir, 'k.pem'), '-passin', `pass:${passphrase}`, '-v2', 'aes-256-cbc', '-v2prf', 'hmacWithSHA256', '-iter', String(ITERATIONS), '-passout', `pass:${passphrase}`])
  t.equal(converted.status, 0, converted.stderr)
  const stored = converted.stdout
  const { salt } = partsOf(stored)
  const key = await decryptPrivateKeyAsync(stored, passphrase)
  const again = await encryptPrivateKey(key, passphrase, ITERATIONS)
  t.equal(partsOf(again).salt, salt, 'the salt derived last for this passphrase is reused')
  t.not(partsOf(again).iv, partsOf(stored).iv, 'with an IV of its own')
  const a = derivedKey(passphrase, Buffer.from(salt, 'hex'), ITERATIONS)
  const b = derivedKey(passphrase, Buffer.from(salt, 'hex'), ITERATIONS)
  t.equal(await a, await b, 'the same derivation, not a second PBKDF2 run')
  t.equal((await a).length, 32)
})
