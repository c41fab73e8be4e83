/**
 * The one generator of one-time PKCS#12 passwords, for every bundle and for
 * the API's bare PKCS#12.
 */
import { randomBytes } from 'node:crypto'

// Lowercase letters and digits without the look-alikes i, l, o, 0, 1: easy to
// type on a phone keyboard (Android asks for the PKCS#12 password).
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'
const LENGTH = 20

/**
 * A one-time PKCS#12 password: five groups of four characters from a
 * 31-symbol alphabet (about 99 bits), e.g. `k7qm-x2ct-9hpw-ae3r-m4zk`. Bytes
 * are drawn by rejection sampling so every symbol is equally likely.
 */
export function newPkcs12Password(random: (size: number) => Buffer = randomBytes): string {
  const n = ALPHABET.length
  const limit = 256 - (256 % n)
  let out = ''
  // Each byte is accepted with probability 248/256; 32 bytes almost always suffice, and every round adds some.
  while (out.length < LENGTH) {
    for (const byte of random(32)) {
      if (byte < limit && out.length < LENGTH) out += ALPHABET[byte % n]
    }
  }
  return out.replace(/(.{4})(?!$)/g, '$1-')
}
