import { createCipheriv, createDecipheriv, createPrivateKey, randomBytes, type KeyObject } from 'node:crypto'
import { children, derToPem, Tag, int, nullValue, octets, oid, pemToDer, readOid, readOne, seq } from './der.js'
import { CaError } from './errors.js'
import { derivedKey, keyForEncryption } from './key-derivation.js'
import { OID } from './oids.js'

/**
 * PBKDF2 iterations for CA keys at rest. OWASP's 2023 figure for
 * PBKDF2-HMAC-SHA256 is 600,000; Node's own PKCS#8 export uses 2,048, which is
 * why kagi writes the structure itself.
 */
export const KEY_ENCRYPTION_ITERATIONS = 600_000

/**
 * Encrypts a private key as an RFC 5958 EncryptedPrivateKeyInfo with PBES2
 * (RFC 8018 §6.2): PBKDF2-HMAC-SHA256, 600,000 iterations, 16-byte salt
 * (shared by what one process encrypts, see key-derivation.ts), and
 * AES-256-CBC with a random IV. Returns PEM ("ENCRYPTED PRIVATE KEY"), readable by
 * `openssl pkcs8` and by {@link decryptPrivateKey}.
 *
 * @asn
 * PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme AlgorithmIdentifier }
 * PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER, keyLength INTEGER OPTIONAL, prf AlgorithmIdentifier }
 */
export async function encryptPrivateKey(key: KeyObject, passphrase: string, iterations = KEY_ENCRYPTION_ITERATIONS): Promise<string> {
  const { salt, key: derived } = keyForEncryption(passphrase, iterations)
  const iv = randomBytes(16)
  const cipher = createCipheriv('aes-256-cbc', await derived, iv)
  const plain = key.export({ type: 'pkcs8', format: 'der' }) as Buffer
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()])
  plain.fill(0)
  const algorithm = seq(
    oid(OID.pbes2),
    seq(
      seq(oid(OID.pbkdf2), seq(octets(salt), int(iterations), int(32), seq(oid(OID.hmacWithSHA256), nullValue()))),
      seq(oid(OID.aes256Cbc), octets(iv)),
    ),
  )
  return derToPem(seq(algorithm, octets(encrypted)), 'ENCRYPTED PRIVATE KEY')
}

/** Decrypts a key written by {@link encryptPrivateKey} (or any PBES2 PKCS#8 PEM). */
export function decryptPrivateKey(pem: string, passphrase: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: 'pem', passphrase })
  } catch {
    throw new CaError('ca_passphrase_wrong', 'the CA key could not be decrypted: wrong passphrase (KAGI_CA_PASSPHRASE) or a damaged key')
  }
}

/**
 * Decrypts a key written by {@link encryptPrivateKey} without blocking the
 * event loop: PBKDF2 runs on the libuv thread pool, so several keys can be
 * decrypted in parallel at start-up. Other encodings fall back to
 * {@link decryptPrivateKey}.
 */
export async function decryptPrivateKeyAsync(pem: string, passphrase: string): Promise<KeyObject> {
  let salt: Buffer, iterations: number, iv: Buffer, encrypted: Buffer
  try {
    const [algorithm, data] = children(readOne(pemToDer(pem, 'ENCRYPTED PRIVATE KEY')))
    const [scheme, params] = children(algorithm!)
    const [kdf, cipher] = children(params!)
    const [kdfOid, kdfParams] = children(kdf!)
    // keyLength is OPTIONAL (RFC 8018 A.2): kagi writes it, openssl does not; prf is then the third element.
    const [saltNode, iterNode, ...rest] = children(kdfParams!)
    const prf = rest.find((node) => node.tag === Tag.sequence)
    const [cipherOid, ivNode] = children(cipher!)
    const prfOid = prf ? readOid(children(prf)[0]!) : undefined
    if (readOid(scheme!) !== OID.pbes2 || readOid(kdfOid!) !== OID.pbkdf2 || readOid(cipherOid!) !== OID.aes256Cbc || prfOid !== OID.hmacWithSHA256) {
      return decryptPrivateKey(pem, passphrase)
    }
    salt = saltNode!.value
    iterations = iterNode!.value.reduce((n, b) => n * 256 + b, 0)
    iv = ivNode!.value
    encrypted = data!.value
  } catch {
    return decryptPrivateKey(pem, passphrase)
  }
  const derived = await derivedKey(passphrase, salt, iterations)
  try {
    const decipher = createDecipheriv('aes-256-cbc', derived, iv)
    const plain = Buffer.concat([decipher.update(encrypted), decipher.final()])
    try {
      return createPrivateKey({ key: plain, format: 'der', type: 'pkcs8' })
    } finally {
      plain.fill(0)
    }
  } catch {
    throw new CaError('ca_passphrase_wrong', 'the CA key could not be decrypted: wrong passphrase (KAGI_CA_PASSPHRASE) or a damaged key')
  }
}

const SECRET_FORMAT = 'pbkdf2-sha256-aes256gcm'

/**
 * Encrypts a short secret (the session cookie key) with the CA passphrase:
 * PBKDF2-HMAC-SHA256 at the CA keys' iteration count (the salt shared as in
 * {@link encryptPrivateKey}), then AES-256-GCM with a random 96-bit IV, so
 * the stored secret is no easier to attack than the CA keys. Text form:
 * `pbkdf2-sha256-aes256gcm$<iterations>$<salt>$<iv>$<ciphertext+tag>` (base64url).
 */
export async function encryptSecret(secret: Buffer, passphrase: string, iterations = KEY_ENCRYPTION_ITERATIONS): Promise<string> {
  const { salt, key: derived } = keyForEncryption(passphrase, iterations)
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', await derived, iv)
  const sealed = Buffer.concat([cipher.update(secret), cipher.final(), cipher.getAuthTag()])
  return [SECRET_FORMAT, String(iterations), salt.toString('base64url'), iv.toString('base64url'), sealed.toString('base64url')].join('$')
}

/** Decrypts a secret written by {@link encryptSecret}; a wrong passphrase or a changed byte is a CaError. */
export async function decryptSecret(text: string, passphrase: string): Promise<Buffer> {
  const [format, iterationText, salt, iv, sealed] = text.split('$')
  const iterations = Number(iterationText)
  if (format !== SECRET_FORMAT || !Number.isInteger(iterations) || iterations < 1 || !salt || !iv || !sealed) {
    throw new CaError('ca_passphrase_wrong', 'a stored secret is damaged (unknown format)')
  }
  const derived = await derivedKey(passphrase, Buffer.from(salt, 'base64url'), iterations)
  try {
    const body = Buffer.from(sealed, 'base64url')
    const decipher = createDecipheriv('aes-256-gcm', derived, Buffer.from(iv, 'base64url'))
    decipher.setAuthTag(body.subarray(body.length - 16))
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()])
  } catch {
    throw new CaError('ca_passphrase_wrong', 'a stored secret could not be decrypted: wrong passphrase (KAGI_CA_PASSPHRASE) or damaged data')
  }
}
