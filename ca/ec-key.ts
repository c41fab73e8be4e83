import { createPublicKey, type KeyObject } from 'node:crypto'
import { children, DerError, readOid, readOne, Tag } from './der.js'
import { CaError } from './errors.js'
import { OID } from './oids.js'

/** The EC parts of a SubjectPublicKeyInfo whose algorithm is id-ecPublicKey. */
export interface EcSpki {
  /** The namedCurve OID (the only ECParameters form kagi accepts). */
  curveOid: string
  /** The ECPoint octets (RFC 5480 §2.2): 0x04 || X || Y, or 0x02/0x03 || X. */
  point: Buffer
  form: 'uncompressed' | 'compressed'
}

/**
 * Reads the EC parameters and point of a SubjectPublicKeyInfo; undefined when
 * the key is not id-ecPublicKey (RSA and the rest are judged elsewhere).
 *
 * RFC 5480 §2.1.1: in PKIX "implicitCurve and specifiedCurve MUST NOT be
 * used", only namedCurve. OpenSSL matches explicit parameters that equal P-256
 * back to prime256v1 and so would pass the curve check, but the CSR's SPKI is
 * copied into the certificate as is: kagi would sign a certificate that
 * strict verifiers refuse, and explicit parameters are an attack surface of
 * their own (CVE-2020-0601, CVE-2022-0778). So the encoding is checked here,
 * not only the decoded key.
 *
 * RFC 5480 §2.2 names two point forms, uncompressed (0x04) and compressed
 * (0x02/0x03); X9.62's hybrid form (0x06/0x07) is not among them and is
 * refused, although OpenSSL decodes it.
 *
 * @asn
 * ECParameters ::= CHOICE { namedCurve OBJECT IDENTIFIER, implicitCurve NULL, specifiedCurve SpecifiedECDomain }
 */
export function readEcSpki(spki: Buffer): EcSpki | undefined {
  let params, bits
  try {
    const [algorithm, key] = children(readOne(spki))
    const [algOid, p] = children(algorithm!)
    if (readOid(algOid!) !== OID.ecPublicKey) return undefined
    params = p
    bits = key
    if (!bits || bits.tag !== Tag.bitString || bits.value[0] !== 0) throw new DerError('public key bits')
  } catch (error) {
    if (error instanceof DerError || error instanceof TypeError) throw new CaError('key_rejected', 'the public key in the CSR is malformed')
    throw error
  }
  if (params?.tag !== Tag.oid) {
    const form = params?.tag === Tag.sequence ? 'explicit (specified) curve parameters' : params?.tag === Tag.null ? 'implicit curve parameters' : 'no curve'
    throw new CaError('key_rejected', `the EC key in the CSR has ${form}; RFC 5480 §2.1.1 allows only a named curve: use P-256 (prime256v1) or P-384 (secp384r1) by name`)
  }
  const point = bits.value.subarray(1)
  const first = point[0]
  if (first !== 0x04 && first !== 0x02 && first !== 0x03) {
    throw new CaError('key_rejected', 'the EC point in the CSR is neither uncompressed (04) nor compressed (02/03), the forms RFC 5480 §2.2 allows')
  }
  let curveOid: string
  try {
    curveOid = readOid(params)
  } catch (error) {
    // A truncated or overlong curve OID (found by `npm run fuzz`): the key's fault, not kagi's.
    if (error instanceof DerError) throw new CaError('key_rejected', 'the EC key in the CSR names its curve with a malformed OBJECT IDENTIFIER')
    throw error
  }
  return { curveOid, point, form: first === 0x04 ? 'uncompressed' : 'compressed' }
}

/**
 * The key's SubjectPublicKeyInfo with the point uncompressed (0x04 || X || Y).
 * Node's SPKI export keeps the form the key was decoded from, so the key goes
 * through its JWK (x, y), which always exports uncompressed.
 */
export function uncompressedSpki(key: KeyObject): Buffer {
  return createPublicKey({ key: key.export({ format: 'jwk' }), format: 'jwk' }).export({ type: 'spki', format: 'der' }) as Buffer
}
