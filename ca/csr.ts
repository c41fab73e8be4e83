import { createPublicKey, KeyObject, type JsonWebKey } from 'node:crypto'
import { children, DerError, pemToDer, readOid, readOne, Tag } from './der.js'
import { readEcSpki, uncompressedSpki, type EcSpki } from './ec-key.js'
import { CaError } from './errors.js'
import { OID } from './oids.js'
import { signatureVerifies, type PublicKeyInput } from './signer.js'

/** What kagi takes from a CSR: the public key, after proof of possession. Nothing else. */
export interface VerifiedCsr {
  /** DER SubjectPublicKeyInfo for the certificate: the CSR's, with a compressed EC point uncompressed. */
  publicKeyInfo: Buffer
  keyAlgorithm: 'rsa' | 'ec'
  /** e.g. "rsa-2048", "ecdsa-p256". */
  keyDescription: string
}

const signatureHashes: Record<string, string> = {
  [OID.sha256WithRSAEncryption]: 'sha256',
  [OID.sha384WithRSAEncryption]: 'sha384',
  [OID.sha512WithRSAEncryption]: 'sha512',
  [OID.ecdsaWithSHA256]: 'sha256',
  [OID.ecdsaWithSHA384]: 'sha384',
  [OID.ecdsaWithSHA512]: 'sha512',
}

/**
 * SHA-1 signatures are refused by name, not verified: SHA-1 has practical
 * chosen-prefix collisions (Leurent & Peyrin 2020), NIST SP 800-131A Rev. 2
 * disallows it for generating signatures, and RFC 9155 deprecated it in TLS.
 * A CSR's signature only proves possession of the key, but accepting SHA-1
 * here would keep clients configured for it; the message says what to use.
 */
const sha1Signatures = new Set<string>([OID.sha1WithRSAEncryption, OID.ecdsaWithSHA1])

const allowedCurves: Record<string, string> = { prime256v1: 'ecdsa-p256', secp384r1: 'ecdsa-p384' }

/** Smallest RSA modulus kagi certifies (NIST SP 800-131A). */
export const MIN_RSA_BITS = 2048

/**
 * Accepts a PKCS#10 request (RFC 2986) as PEM text or DER bytes.
 * Whitespace around PEM is tolerated; both "CERTIFICATE REQUEST" and the old
 * "NEW CERTIFICATE REQUEST" labels are accepted.
 */
export function csrToDer(input: string | Uint8Array): Buffer {
  if (typeof input !== 'string') return Buffer.from(input)
  const text = input.trim()
  if (!text.startsWith('-----BEGIN')) throw new CaError('csr_invalid', 'the CSR is not PEM ("-----BEGIN CERTIFICATE REQUEST-----")')
  try {
    const match = /-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.exec(text)
    if (!match) throw new DerError('label')
    return pemToDer(text, `${match[1] ?? ''}CERTIFICATE REQUEST`)
  } catch {
    throw new CaError('csr_invalid', 'the CSR is not PEM with the label CERTIFICATE REQUEST')
  }
}

/**
 * Parses a PKCS#10 request, checks its self-signature (proof of possession of
 * the private key, with SHA-2: SHA-1 is refused) and the key policy: RSA of
 * at least 2048 bits, or ECDSA on P-256 or P-384 given as a named curve
 * (RFC 5480 §2.1.1). The subject, attributes and requested extensions are
 * ignored on purpose: kagi takes names only from its own records.
 *
 * A compressed EC point (RFC 5480 §2.2) is accepted and written into the
 * certificate uncompressed. Normalising rather than refusing: the key and
 * the proof of possession are the same in either form, and a refusal would
 * send the user to find a tool option to change; but RFC 5480 §2.2 makes
 * only the uncompressed form mandatory to support, and some verifiers
 * mishandle compressed points in certificates, so the certificate carries
 * the form every verifier must read.
 *
 * @asn
 * CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }
 * CertificationRequestInfo ::= SEQUENCE { version INTEGER { v1(0) }, subject Name, subjectPKInfo, attributes [0] }
 */
export function verifyCsr(input: string | Uint8Array): VerifiedCsr {
  const csr = readCsr(input)
  return verifiedCsr(csr, signatureVerifies(csr.hash, csr.info, csr.key, csr.signature))
}

/** How {@link verifyCsrOffThread} checks the CSR's signature: as crypto.verify, false for one it cannot parse. */
export type CsrSignatureCheck = (hash: string, data: Buffer, key: PublicKeyInput, signature: Buffer) => Promise<boolean>

/** {@link verifyCsr} with the signature checked by `check` (off the event loop); everything else is the same. */
export async function verifyCsrOffThread(input: string | Uint8Array, check: CsrSignatureCheck): Promise<VerifiedCsr> {
  const csr = readCsr(input)
  return verifiedCsr(csr, await check(csr.hash, csr.info, csr.key, csr.signature))
}

interface ReadCsr {
  info: Buffer
  /** The key as the signature check takes it (see {@link readCsrKey}). */
  key: PublicKeyInput
  publicKeyInfo: Buffer
  keyAlgorithm: VerifiedCsr['keyAlgorithm']
  keyDescription: string
  hash: string
  signature: Buffer
}

/** The CSR's parts and key, its key and signature algorithm checked against the policy: all but the signature. */
function readCsr(input: string | Uint8Array): ReadCsr {
  const der = csrToDer(input)
  let info: Buffer, spki: Buffer, algorithm: string, signature: Buffer
  try {
    const [cri, sigAlg, sig] = children(readOne(der))
    if (!cri || !sigAlg || !sig || cri.tag !== Tag.sequence || sig.tag !== Tag.bitString) throw new DerError('shape')
    const criParts = children(cri)
    if (criParts.length < 3 || criParts[0]!.tag !== Tag.integer || criParts[2]!.tag !== Tag.sequence) throw new DerError('info')
    info = cri.raw
    spki = criParts[2]!.raw
    algorithm = readOid(children(sigAlg)[0]!)
    if (sig.value[0] !== 0) throw new DerError('signature has unused bits')
    signature = sig.value.subarray(1)
  } catch {
    throw new CaError('csr_invalid', 'the CSR is not a valid PKCS#10 certificate request (RFC 2986)')
  }
  const key = readCsrKey(spki)
  if (sha1Signatures.has(algorithm)) throw new CaError('csr_signature_invalid', 'the CSR is signed with SHA-1; sign it with SHA-256 or stronger (SHA-2)')
  const hash = signatureHashes[algorithm]
  if (!hash) throw new CaError('csr_signature_invalid', `the CSR signature algorithm ${algorithm} is not supported (use RSA PKCS#1 v1.5 or ECDSA with SHA-2)`)
  return { info, ...key, hash, signature }
}

const keyMalformed = (): CaError => new CaError('key_rejected', 'the public key in the CSR is malformed or of an unsupported type')

/**
 * The CSR's key, checked against the policy. An uncompressed P-256 or P-384
 * point (RFC 5480 §2.2, the form nearly every CSR has) is left as a JWK: the
 * policy needs only its curve, read from the SPKI, and importing it (~50 µs
 * of OpenSSL 3, as much as the signature check) is left to whoever checks the
 * signature, the signing thread when there is one, so that it leaves the
 * event loop with the check. Whether the point is on the curve is then
 * known with the signature ({@link verifiedCsr}). Other keys (RSA, compressed
 * points, other curves) are imported here.
 */
function readCsrKey(spki: Buffer): Pick<ReadCsr, 'key' | 'publicKeyInfo' | 'keyAlgorithm' | 'keyDescription'> {
  const ec = readEcSpki(spki)
  const jwk = ec && pointAsJwk(ec)
  if (jwk) return { key: { key: jwk, format: 'jwk' }, publicKeyInfo: spki, keyAlgorithm: 'ec', keyDescription: jwkCurves[ec.curveOid]!.description }
  let key: KeyObject
  try {
    // OpenSSL 3's generic DER decoder: ~110 µs a key here, twice the JWK import; the rarer keys only.
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' })
  } catch {
    throw keyMalformed()
  }
  const keyDescription = checkKeyPolicy(key)
  const publicKeyInfo = ec?.form === 'compressed' ? uncompressedSpki(key) : spki
  return { key, publicKeyInfo, keyAlgorithm: key.asymmetricKeyType === 'rsa' ? 'rsa' : 'ec', keyDescription }
}

function verifiedCsr(csr: ReadCsr, signatureValid: boolean): VerifiedCsr {
  if (!signatureValid) {
    // A JWK point that is not on its curve fails the check too: told apart here, on this rare path.
    if (!(csr.key instanceof KeyObject) && !importable(csr.key)) throw keyMalformed()
    throw new CaError('csr_signature_invalid', 'the CSR signature does not verify: it was not signed by the key it contains')
  }
  return { publicKeyInfo: csr.publicKeyInfo, keyAlgorithm: csr.keyAlgorithm, keyDescription: csr.keyDescription }
}

function importable(key: PublicKeyInput): boolean {
  try {
    createPublicKey(key)
    return true
  } catch {
    return false
  }
}

/** The curves a point is given to OpenSSL on as a JWK (both are in kagi's policy, {@link checkKeyPolicy}). */
const jwkCurves: Record<string, { crv: string; size: number; description: string }> = {
  [OID.secp256r1]: { crv: 'P-256', size: 32, description: 'ecdsa-p256' },
  [OID.secp384r1]: { crv: 'P-384', size: 48, description: 'ecdsa-p384' },
}

/** An uncompressed point on a {@link jwkCurves} curve as a JWK (RFC 7518 §6.2.1), else undefined. */
function pointAsJwk(ec: EcSpki): JsonWebKey | undefined {
  const curve = jwkCurves[ec.curveOid]
  if (!curve || ec.form !== 'uncompressed' || ec.point.length !== 1 + 2 * curve.size) return undefined
  return { kty: 'EC', crv: curve.crv, x: ec.point.subarray(1, 1 + curve.size).toString('base64url'), y: ec.point.subarray(1 + curve.size).toString('base64url') }
}

/** Returns a description such as "rsa-2048" or throws key_rejected saying why. */
export function checkKeyPolicy(key: KeyObject): string {
  const type = key.asymmetricKeyType
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
    if (bits < MIN_RSA_BITS) throw new CaError('key_rejected', `the RSA key has ${bits} bits; at least ${MIN_RSA_BITS} are required`)
    if (bits > 8192) throw new CaError('key_rejected', `the RSA key has ${bits} bits; at most 8192 are accepted`)
    return `rsa-${bits}`
  }
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown'
    const name = allowedCurves[curve]
    if (!name) throw new CaError('key_rejected', `the EC key uses curve ${curve}; only P-256 (prime256v1) and P-384 (secp384r1) are accepted`)
    return name
  }
  throw new CaError('key_rejected', `the key type ${type ?? 'unknown'} is not accepted; use RSA (2048 bits or more) or ECDSA P-256/P-384`)
}
