import { createPublicKey } from 'node:crypto'
import { children, readOid, Tag, type Node } from '../../../ca/der.js'
import { OID } from '../../../ca/oids.js'
import { signatureVerifies } from '../../../ca/signer.js'

/** Hash of each signature algorithm kagi signs with (ca/signer.ts), and their larger siblings. */
const hashOf = new Map<string, string>([
  [OID.ecdsaWithSHA256, 'sha256'],
  [OID.ecdsaWithSHA384, 'sha384'],
  [OID.ecdsaWithSHA512, 'sha512'],
  [OID.sha256WithRSAEncryption, 'sha256'],
  [OID.sha384WithRSAEncryption, 'sha384'],
  [OID.sha512WithRSAEncryption, 'sha512'],
])

/**
 * Whether `signature` (a BIT STRING node) over `signed` (the DER of the
 * to-be-signed part) verifies under `publicKeyInfo` with `algorithm` (an
 * AlgorithmIdentifier node). The shape shared by certificates, CRLs (RFC
 * 5280 §5.1) and BasicOCSPResponse (RFC 6960 §4.2.1). ECDSA signatures are
 * DER Ecdsa-Sig-Value, Node's default encoding; RSA is PKCS#1 v1.5.
 * An algorithm kagi never signs with (RSASSA-PSS, SHA-1), or a signature
 * that cannot be parsed, counts as not verifying.
 */
export function signedPartVerifies(signed: Buffer, algorithm: Node, signature: Node, publicKeyInfo: Buffer): boolean {
  const [id] = children(algorithm)
  const hash = id && hashOf.get(readOid(id))
  if (!hash || signature.tag !== Tag.bitString || signature.value[0] !== 0) return false
  const key = createPublicKey({ key: publicKeyInfo, format: 'der', type: 'spki' })
  return signatureVerifies(hash, signed, key, signature.value.subarray(1))
}
