import { pbkdf2, randomBytes } from 'node:crypto'
import { promisify } from 'node:util'

const pbkdf2Async = promisify(pbkdf2)

/** Derivations kept per process: an installation has one or a few salts; tests use more passphrases. */
const MAX_KEPT = 16

interface Derivation {
  passphrase: string
  salt: Buffer
  iterations: number
  key: Promise<Buffer>
}

/** Most recently used last (a Map keeps insertion order). */
const kept = new Map<string, Derivation>()

function idOf(passphrase: string, salt: Buffer, iterations: number): string {
  // The passphrase is a key of this map only inside the process that holds it anyway (its configuration).
  return `${iterations}$${salt.toString('base64')}$${passphrase}`
}

function keep(derivation: Derivation): Derivation {
  const id = idOf(derivation.passphrase, derivation.salt, derivation.iterations)
  kept.delete(id)
  kept.set(id, derivation)
  if (kept.size > MAX_KEPT) kept.delete(kept.keys().next().value!)
  // A failed run (it does not happen with valid arguments) is not kept.
  derivation.key.catch(() => kept.delete(id))
  return derivation
}

function derive(passphrase: string, salt: Buffer, iterations: number): Derivation {
  return keep({ passphrase, salt, iterations, key: pbkdf2Async(Buffer.from(passphrase, 'utf8'), salt, iterations, 32, 'sha256') })
}

/**
 * The 32-byte PBKDF2-HMAC-SHA256 key (RFC 8018 §5.2) for a passphrase, salt
 * and iteration count, derived on the thread pool once per process and then
 * kept: every stored key and secret kagi writes in one process shares a
 * salt (see {@link keyForEncryption}), so a start decrypts the issuing key,
 * the session key and the service credentials with one 600,000-iteration
 * run instead of one each (issue 15: about 0.4 s of a restart, and more on
 * a first start, which encrypts six). The derived key is worth exactly the
 * passphrase, which the process holds for as long. Callers must not
 * overwrite the returned buffer.
 */
export function derivedKey(passphrase: string, salt: Buffer, iterations: number): Promise<Buffer> {
  const found = kept.get(idOf(passphrase, salt, iterations))
  return (found ? keep(found) : derive(passphrase, salt, iterations)).key
}

/**
 * A salt and key to encrypt with: those of the last derivation with this
 * passphrase and iteration count (the issuing key's, once it was decrypted),
 * or a new random 16-byte salt, kept for the encryptions that follow.
 *
 * RFC 8018 §4.1 asks for a random salt so that one precomputation cannot
 * serve many passwords; it still does that here (each installation draws its
 * own). Salts shared by the blobs of one passphrase cost nothing: whoever
 * guesses the passphrase opens every blob whatever their salts. Each blob
 * keeps its own random IV, and states its salt, so `openssl pkcs8` and older
 * kagi versions read it as before.
 */
export function keyForEncryption(passphrase: string, iterations: number): { salt: Buffer; key: Promise<Buffer> } {
  const last = [...kept.values()].reverse().find((d) => d.passphrase === passphrase && d.iterations === iterations)
  const chosen = last ? keep(last) : derive(passphrase, randomBytes(16), iterations)
  return { salt: chosen.salt, key: chosen.key }
}
