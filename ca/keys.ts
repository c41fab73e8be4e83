import { generateKeyPair, type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'

const generate = promisify(generateKeyPair)

/** CA key types kagi can create (KAGI_CA_KEY_TYPE). */
export const caKeyTypes = ['ecdsa-p256', 'ecdsa-p384', 'rsa-3072', 'rsa-4096'] as const
export type CaKeyType = (typeof caKeyTypes)[number]

/** Key types for keys kagi generates for a client (returned once in a PKCS#12). */
export const clientKeyTypes = ['rsa-2048', 'ecdsa-p256'] as const
export type ClientKeyType = (typeof clientKeyTypes)[number]

export type KeyType = CaKeyType | ClientKeyType

/**
 * Generates a key pair with Node's native crypto (OpenSSL), asynchronously on
 * the libuv thread pool so that RSA generation does not block the event loop.
 */
export async function generateKey(type: KeyType): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  switch (type) {
    case 'ecdsa-p256':
      return generate('ec', { namedCurve: 'P-256' })
    case 'ecdsa-p384':
      return generate('ec', { namedCurve: 'P-384' })
    case 'rsa-2048':
      return generate('rsa', { modulusLength: 2048, publicExponent: 0x10001 })
    case 'rsa-3072':
      return generate('rsa', { modulusLength: 3072, publicExponent: 0x10001 })
    case 'rsa-4096':
      return generate('rsa', { modulusLength: 4096, publicExponent: 0x10001 })
  }
}

/** SubjectPublicKeyInfo DER of a key (public or private). */
export function spkiOf(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' }) as Buffer
}
