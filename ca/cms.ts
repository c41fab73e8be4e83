/**
 * CMS SignedData (RFC 5652 §5) as kagi writes it: for signed Apple profiles
 * (enrollment/cms-signed-data.ts) and SCEP replies (ca/scep/cert-rep.ts).
 * Written with ca/der.ts; node:crypto signs.
 */
import { createHash, sign, X509Certificate, type KeyObject } from 'node:crypto'
import { certificateInfo } from './certificate-info.js'
import { explicit, int, nullValue, octets, oid, seq, tlv } from './der.js'
import { OID } from './oids.js'

/** DER SET OF: elements sorted by their encodings (X.690 §11.6); clients reject unsorted signed attributes. */
export const setOf = (items: readonly Buffer[], tag = 0x31): Buffer => tlv(tag, ...[...items].sort(Buffer.compare))

/** Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET OF AttributeValue } (RFC 5652 §5.3). */
export const attribute = (type: string, value: Buffer): Buffer => seq(oid(type), setOf([value]))

/** A digest a SignedData may use (RFC 5754 §2), by its node:crypto name. */
export type CmsDigest = 'sha1' | 'sha256' | 'sha384' | 'sha512'

const digestOids: Record<CmsDigest, string> = { sha1: OID.sha1, sha256: OID.sha256, sha384: OID.sha384, sha512: OID.sha512 }
const ecdsaOids: Partial<Record<CmsDigest, string>> = { sha256: OID.ecdsaWithSHA256, sha384: OID.ecdsaWithSHA384, sha512: OID.ecdsaWithSHA512 }

/**
 * Digest AlgorithmIdentifier with parameters absent (RFC 5754 §2).
 * Signature algorithm: rsaEncryption with NULL for RSA (RFC 3370 §3.2, which
 * is also what the strictest verifiers, e.g. strongSwan, accept), or
 * ecdsa-with-SHA* with parameters absent (RFC 5753 §2.1.1, RFC 5758 §3.2).
 */
function algorithms(key: KeyObject, digest: CmsDigest): { digest: Buffer; signature: Buffer } {
  const digestId = seq(oid(digestOids[digest]))
  if (key.asymmetricKeyType === 'rsa') return { digest: digestId, signature: seq(oid(OID.rsaEncryption), nullValue()) }
  const ecdsa = ecdsaOids[digest]
  if (key.asymmetricKeyType === 'ec' && ecdsa) return { digest: digestId, signature: seq(oid(ecdsa)) }
  throw new Error(`cannot sign with a ${key.asymmetricKeyType ?? 'symmetric'} key and ${digest} (RSA, or EC with SHA-2)`)
}

/** What {@link signedData} signs. */
export interface SignedDataInput {
  /** The encapsulated content (eContent of type id-data); absent for a SCEP FAILURE or PENDING (RFC 8894 §3.3.2). */
  content?: Buffer
  /** Signed attributes besides contentType and messageDigest (which are added), each from {@link attribute}. */
  attributes: readonly Buffer[]
  digest: CmsDigest
  signer: { certificate: Buffer; privateKey: KeyObject }
  /** Certificates carried besides the signer's (its chain), so verifiers can build the path. */
  chain: readonly Buffer[]
}

/**
 * Returns the DER ContentInfo of a SignedData (RFC 5652 §5.1):
 *
 * @asn
 * ContentInfo ::= SEQUENCE { contentType id-signedData, content [0] EXPLICIT SignedData }
 * SignedData ::= SEQUENCE { version 1, digestAlgorithms SET OF { digest },
 *   encapContentInfo SEQUENCE { eContentType id-data, eContent [0] EXPLICIT OCTET STRING OPTIONAL },
 *   certificates [0] IMPLICIT SET OF Certificate,
 *   signerInfos SET OF SignerInfo }
 * SignerInfo ::= SEQUENCE { version 1, sid IssuerAndSerialNumber, digestAlgorithm,
 *   signedAttrs [0] IMPLICIT SET OF Attribute, signatureAlgorithm, signature OCTET STRING }
 *
 * Versions are 1 because the sid is issuerAndSerialNumber, the content is
 * id-data and there are no attribute certificates (§5.1, §5.3). The signature
 * covers the DER of signedAttrs with the SET OF tag (§5.4), whose elements
 * are DER-sorted; without content, messageDigest is the digest of nothing.
 * Throws if the key does not match the signer certificate.
 */
export function signedData(input: SignedDataInput): Buffer {
  const { certificate, privateKey } = input.signer
  if (privateKey.type !== 'private') throw new TypeError('signing needs a private key')
  if (!new X509Certificate(certificate).checkPrivateKey(privateKey)) throw new Error('the signing key does not match its certificate')
  const alg = algorithms(privateKey, input.digest)
  const cert = certificateInfo(certificate)
  const attributes = [
    attribute(OID.contentType, oid(OID.data)),
    attribute(OID.messageDigest, octets(createHash(input.digest).update(input.content ?? Buffer.alloc(0)).digest())),
    ...input.attributes,
  ]
  const signature = sign(input.digest, setOf(attributes), privateKey) // signed as a SET (tag 0x31) ... RSA: PKCS#1 v1.5; EC: DER ECDSA-Sig-Value
  const signerInfo = seq(int(1), seq(cert.issuer, tlv(0x02, cert.serial)), alg.digest, setOf(attributes, 0xa0) /* ... carried as [0] IMPLICIT */, alg.signature, octets(signature))
  const encapsulated = input.content ? seq(oid(OID.data), explicit(0, octets(input.content))) : seq(oid(OID.data))
  const body = seq(int(1), setOf([alg.digest]), encapsulated, setOf([certificate, ...input.chain], 0xa0), setOf([signerInfo]))
  return seq(oid(OID.signedData), explicit(0, body))
}

/**
 * A "certs-only" SignedData (RFC 5652 §5.2, RFC 8894 §3.4 "degenerate"): no
 * content, no signers, only certificates in the order given (SCEP clients
 * read the first as the RA or the issued certificate), so not DER-sorted.
 */
export function certificatesOnly(certificates: readonly Buffer[]): Buffer {
  return seq(oid(OID.signedData), explicit(0, seq(int(1), tlv(0x31), seq(oid(OID.data)), tlv(0xa0, ...certificates), tlv(0x31))))
}
