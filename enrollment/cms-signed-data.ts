/**
 * CMS SignedData (RFC 5652) with the content attached: what a signed Apple
 * configuration profile is (Apple DTS: the .mobileconfig is the DER
 * ContentInfo, its encapsulated content the plist), and what
 * `openssl cms -sign -nodetach -binary -outform DER -md sha256` produces.
 * Written with ca/der.ts; node:crypto signs.
 */
import { createHash, sign, X509Certificate, type KeyObject } from 'node:crypto'
import { certificateInfo } from '../ca/certificate-info.js'
import { explicit, int, nullValue, octets, oid, seq, time, tlv } from '../ca/der.js'
import { OID } from '../ca/oids.js'
import type { ProfileSigner } from './bundle-types.js'

/** DER SET OF: elements sorted by their encodings (X.690 §11.6). */
const setOf = (items: readonly Buffer[], tag = 0x31): Buffer => tlv(tag, ...[...items].sort(Buffer.compare))

/** Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET OF AttributeValue } (RFC 5652 §5.3). */
const attribute = (type: string, value: Buffer): Buffer => seq(oid(type), setOf([value]))

/**
 * SHA-256 AlgorithmIdentifier with parameters absent (RFC 5754 §2).
 * Signature algorithm: rsaEncryption with NULL for RSA (RFC 3370 §3.2, which
 * is also what the strictest verifiers, e.g. strongSwan, accept), or
 * ecdsa-with-SHA256 with parameters absent (RFC 5753 §2.1.1, RFC 5758 §3.2).
 */
function algorithms(key: KeyObject): { digest: Buffer; signature: Buffer } {
  const digest = seq(oid(OID.sha256))
  if (key.asymmetricKeyType === 'rsa') return { digest, signature: seq(oid(OID.rsaEncryption), nullValue()) }
  if (key.asymmetricKeyType === 'ec') return { digest, signature: seq(oid(OID.ecdsaWithSHA256)) }
  throw new Error(`cannot sign a profile with a ${key.asymmetricKeyType ?? 'symmetric'} key (RSA or EC only)`)
}

/**
 * Signs `content` and returns the DER ContentInfo of a SignedData (RFC 5652
 * §5.1) holding it:
 *
 * @asn
 * ContentInfo ::= SEQUENCE { contentType id-signedData, content [0] EXPLICIT SignedData }
 * SignedData ::= SEQUENCE { version 1, digestAlgorithms SET OF { sha256 },
 *   encapContentInfo SEQUENCE { eContentType id-data, eContent [0] EXPLICIT OCTET STRING },
 *   certificates [0] IMPLICIT SET OF Certificate,   -- signer + chain, so verifiers can build the path
 *   signerInfos SET OF SignerInfo }
 * SignerInfo ::= SEQUENCE { version 1, sid IssuerAndSerialNumber, digestAlgorithm sha256,
 *   signedAttrs [0] IMPLICIT SET OF Attribute,        -- contentType, messageDigest, signingTime (§11)
 *   signatureAlgorithm, signature OCTET STRING }
 *
 * Versions are 1 because the sid is issuerAndSerialNumber, the content is
 * id-data and there are no attribute certificates (§5.1, §5.3). The signature
 * covers the DER of signedAttrs with the SET OF tag (§5.4), whose elements
 * are DER-sorted. Throws if the key does not match the signer certificate.
 */
export function signAttached(content: Buffer, signer: ProfileSigner, now: Date): Buffer {
  const { certificate, privateKey, chain } = signer
  if (privateKey.type !== 'private') throw new TypeError('signing needs a private key')
  if (!new X509Certificate(certificate).checkPrivateKey(privateKey)) throw new Error('the profile signing key does not match its certificate')
  const alg = algorithms(privateKey)
  const cert = certificateInfo(certificate)
  const sid = seq(cert.issuer, tlv(0x02, cert.serial))

  const attributes = [
    attribute(OID.contentType, oid(OID.data)),
    attribute(OID.messageDigest, octets(createHash('sha256').update(content).digest())),
    attribute(OID.signingTime, time(now)), // UTCTime through 2049 (§11.3)
  ]
  const signedAttrs = setOf(attributes) // signed as a SET (tag 0x31) ...
  const signature = sign('sha256', signedAttrs, privateKey) // RSA: PKCS#1 v1.5; EC: DER ECDSA-Sig-Value
  const signerInfo = seq(
    int(1),
    sid,
    alg.digest,
    setOf(attributes, 0xa0), // ... and carried as [0] IMPLICIT
    alg.signature,
    octets(signature),
  )
  const signedData = seq(
    int(1),
    setOf([alg.digest]),
    seq(oid(OID.data), explicit(0, octets(content))),
    setOf([certificate, ...chain], 0xa0),
    setOf([signerInfo]),
  )
  return seq(oid(OID.signedData), explicit(0, signedData))
}
