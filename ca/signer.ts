import { createPublicKey, sign as cryptoSign, verify as cryptoVerify, type JsonWebKey, type KeyObject } from 'node:crypto'
import { nullValue, oid, seq } from './der.js'
import { OID } from './oids.js'

/**
 * Signer is the port through which the CA signs: a software key today, a
 * PKCS#11 or cloud KMS key later (smallstep's cas/apiv1 idea).
 */
export interface Signer {
  /** DER AlgorithmIdentifier of the signatures this signer makes. */
  readonly algorithm: Buffer
  /** DER SubjectPublicKeyInfo of the signing key. */
  readonly publicKeyInfo: Buffer
  /** 'ec' or 'rsa': decides keyUsage bits and algorithm choices elsewhere. */
  readonly keyAlgorithm: 'ec' | 'rsa'
  /** Signs `data`, returning the signature as it goes into a BIT STRING. */
  sign(data: Uint8Array): Buffer
  /**
   * The same signature made off the event loop, where the signer has a
   * thread for it (absent: only {@link sign}).
   */
  signOffThread?(data: Uint8Array): Promise<Buffer>
  /** Node hash name matching `algorithm` ("sha256" or "sha384"). */
  readonly hash: 'sha256' | 'sha384'
}

/**
 * A signer over a private key held in memory. ECDSA: P-256 with SHA-256,
 * P-384 with SHA-384 (RFC 5758 §3.2, parameters absent). RSA:
 * sha256WithRSAEncryption, PKCS#1 v1.5 with NULL parameters (RFC 4055 §5),
 * which every GlobalProtect client and PAN-OS accept.
 */
export function softwareSigner(privateKey: KeyObject): Signer {
  const publicKeyInfo = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }) as Buffer
  const type = privateKey.asymmetricKeyType
  if (type === 'ec') {
    const curve = privateKey.asymmetricKeyDetails?.namedCurve
    const hash = curve === 'secp384r1' ? 'sha384' : 'sha256'
    if (curve !== 'prime256v1' && curve !== 'secp384r1') throw new Error(`unsupported CA curve ${curve}`)
    const algorithm = seq(oid(hash === 'sha384' ? OID.ecdsaWithSHA384 : OID.ecdsaWithSHA256))
    return { algorithm, publicKeyInfo, keyAlgorithm: 'ec', hash, sign: (data) => cryptoSign(hash, data, privateKey) }
  }
  if (type === 'rsa') {
    const algorithm = seq(oid(OID.sha256WithRSAEncryption), nullValue())
    return { algorithm, publicKeyInfo, keyAlgorithm: 'rsa', hash: 'sha256', sign: (data) => cryptoSign('sha256', data, privateKey) }
  }
  throw new Error(`unsupported CA key type ${type}`)
}

/** Signs `data` off the event loop where `signer` has a thread for it (Signer.signOffThread), in place otherwise. */
export async function signOffLoop(signer: Signer, data: Uint8Array): Promise<Buffer> {
  return signer.signOffThread ? signer.signOffThread(data) : signer.sign(data)
}

/**
 * A public key as crypto.verify takes it: a KeyObject, or a JWK that the
 * verifier imports itself (ca/csr.ts hands CSR keys on so, for the signing
 * thread to import off the event loop).
 */
export type PublicKeyInput = KeyObject | { key: JsonWebKey; format: 'jwk' }

/**
 * Whether `signature` over `data` verifies with the public `key`, as
 * crypto.verify decides; false also for a signature or key it cannot parse
 * (a malformed ECDSA signature makes crypto.verify throw rather than fail).
 */
export function signatureVerifies(hash: string, data: Uint8Array, key: PublicKeyInput, signature: Uint8Array): boolean {
  try {
    return cryptoVerify(hash, data, key, signature)
  } catch {
    return false
  }
}
