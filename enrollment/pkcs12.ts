/**
 * PKCS#12 (RFC 7292) export of a device key and its certificate chain.
 *
 * The profile is the "legacy" one that macOS/iOS, Windows before 1709 and
 * ChromeOS (ONC) import, and that OpenSSL 3 still reads without `-legacy`:
 * key and certificates encrypted with pbeWithSHAAnd3-KeyTripleDES-CBC, an
 * HMAC-SHA1 MAC. node-forge's `pkcs12.toPkcs12Asn1` cannot be used because its
 * key and certificate objects are RSA-only, so the PFX is written from raw DER
 * (ca/der.ts), and the PKCS#12 KDF (RFC 7292 Appendix B), which Node
 * lacks, is pkcs12-kdf.ts (it replaced forge's, which gave the same bytes at
 * several times the CPU). 3DES-CBC and HMAC-SHA1 come from node:crypto.
 */
import { createCipheriv, createHash, createHmac, randomBytes, X509Certificate, type KeyObject } from 'node:crypto'
import { explicit, int, nullValue, octets, oid, seq, tlv } from '../ca/der.js'
import { pkcs12Kdf } from './pkcs12-kdf.js'

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  pbeSha1TripleDes: '1.2.840.113549.1.12.1.3', // pbeWithSHAAnd3-KeyTripleDES-CBC, RFC 7292 App. C
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2', // pkcs8ShroudedKeyBag, §4.2.2
  certBag: '1.2.840.113549.1.12.10.1.3', // §4.2.3
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  sha1: '1.3.14.3.2.26',
} as const

/** Salt length for the PBE and MAC salts: OpenSSL's PKCS12_SALT_LEN, which every importer accepts. */
const SALT_LENGTH = 8

export interface Pkcs12Input {
  /** RSA or EC (P-256/P-384) private key. */
  privateKey: KeyObject
  /** Leaf certificate, DER. */
  certificate: Buffer
  /** CA certificates, DER: issuing CA first, then root. */
  chain: readonly Buffer[]
  /** Shown by the importer, e.g. "alice@example.com (kagi)"; set on the key bag and the leaf's cert bag. */
  friendlyName: string
  /** May be '' (ChromeOS ONC requires an empty passphrase). */
  password: string
  /** PKCS#12 KDF iteration count for key encryption, certificate encryption and MAC; default 2048. */
  iterations?: number
  /**
   * Source of the PBE and MAC salts; default crypto.randomBytes. Tests inject a
   * seeded source so that golden files are byte-exact.
   */
  random?: (size: number) => Buffer
}

/**
 * Encrypts with pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292 Appendix B.2 and
 * C: key = KDF id 1, 24 bytes; IV = KDF id 2, 8 bytes; PKCS#5 padding).
 * Returns the AlgorithmIdentifier (with pkcs-12PbeParams) and the ciphertext.
 */
function encrypt(
  plaintext: Buffer,
  password: string,
  iterations: number,
  random: (size: number) => Buffer,
): { algorithm: Buffer; ciphertext: Buffer } {
  const salt = random(SALT_LENGTH)
  const cipher = createCipheriv('des-ede3-cbc', pkcs12Kdf(password, salt, 1, iterations, 24), pkcs12Kdf(password, salt, 2, iterations, 8))
  return {
    algorithm: seq(oid(OID.pbeSha1TripleDes), seq(octets(salt), int(iterations))),
    ciphertext: Buffer.concat([cipher.update(plaintext), cipher.final()]),
  }
}

/** DER SET OF: elements sorted by their encodings (X.690 §11.6). */
const setOf = (...items: Buffer[]): Buffer => tlv(0x31, ...[...items].sort(Buffer.compare))

/** BMPString (UTF-16BE), as RFC 7292 §4.2 requires for friendlyName. */
function bmp(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf16le')
  return tlv(0x1e, bytes.swap16())
}

/** PKCS12Attribute set (§4.2): friendlyName and localKeyId. */
const bagAttributes = (friendlyName: string, localKeyId: Buffer): Buffer =>
  setOf(seq(oid(OID.friendlyName), setOf(bmp(friendlyName))), seq(oid(OID.localKeyId), setOf(octets(localKeyId))))

/** SafeBag (§4.2): bagId, [0] EXPLICIT bagValue, optional attributes. */
const safeBag = (bagId: string, value: Buffer, attributes?: Buffer): Buffer =>
  seq(oid(bagId), explicit(0, value), ...(attributes ? [attributes] : []))

/** ContentInfo of type data (RFC 5652 §4): [0] EXPLICIT OCTET STRING. */
const dataContentInfo = (content: Buffer): Buffer => seq(oid(OID.data), explicit(0, octets(content)))

/**
 * Builds a DER PFX (RFC 7292 §4) holding the private key (pkcs8ShroudedKeyBag),
 * the leaf and CA certificates (certBags in an EncryptedData), all encrypted
 * with pbeWithSHAAnd3-KeyTripleDES-CBC, and an HMAC-SHA1 MAC. The key bag and
 * the leaf's bag carry friendlyName and localKeyId (SHA-1 of the leaf DER).
 * Works for RSA and EC keys alike. Throws if the key does not match the leaf.
 */
export function buildPkcs12(input: Pkcs12Input): Buffer {
  const { privateKey, certificate, chain, friendlyName, password } = input
  const iterations = input.iterations ?? 2048
  const random = input.random ?? randomBytes
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError(`bad PKCS#12 iteration count ${iterations}`)
  if (privateKey.type !== 'private') throw new TypeError('PKCS#12 needs a private key')
  if (!new X509Certificate(certificate).checkPrivateKey(privateKey)) {
    throw new Error('the private key does not match the leaf certificate')
  }
  // Importers pair the key with its certificate through an equal localKeyId.
  const localKeyId = createHash('sha1').update(certificate).digest()
  const attributes = bagAttributes(friendlyName, localKeyId)

  // §4.2.3 certBag: x509Certificate as [0] EXPLICIT OCTET STRING of the DER.
  const certBag = (der: Buffer, attrs?: Buffer): Buffer =>
    safeBag(OID.certBag, seq(oid(OID.x509Certificate), explicit(0, octets(der))), attrs)
  const certContents = seq(certBag(certificate, attributes), ...chain.map((der) => certBag(der)))

  // RFC 5652 §8 EncryptedData (version 0) holding the certificates' SafeContents;
  // encryptedContent is [0] IMPLICIT OCTET STRING.
  const certs = encrypt(certContents, password, iterations, random)
  const encryptedCerts = seq(
    oid(OID.encryptedData),
    explicit(0, seq(int(0), seq(oid(OID.data), certs.algorithm, tlv(0x80, certs.ciphertext)))),
  )

  // §4.2.2 pkcs8ShroudedKeyBag: EncryptedPrivateKeyInfo (RFC 5208 §6) of the PKCS#8 DER.
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' })
  const key = encrypt(pkcs8, password, iterations, random)
  const keyContents = seq(safeBag(OID.shroudedKeyBag, seq(key.algorithm, octets(key.ciphertext)), attributes))

  // §4.1 AuthenticatedSafe: SEQUENCE OF ContentInfo (certificates, then key, as OpenSSL writes them).
  const authSafe = seq(encryptedCerts, dataContentInfo(keyContents))

  // §4 MacData (computed as in §5.1): HMAC-SHA1 over the AuthenticatedSafe DER, key from KDF id 3
  // (Appendix B.3), 20 bytes. iterations DEFAULT 1 is omitted when 1 (DER).
  const macSalt = random(SALT_LENGTH)
  const mac = createHmac('sha1', pkcs12Kdf(password, macSalt, 3, iterations, 20)).update(authSafe).digest()
  const macData = seq(
    seq(seq(oid(OID.sha1), nullValue()), octets(mac)),
    octets(macSalt),
    ...(iterations === 1 ? [] : [int(iterations)]),
  )

  // §4 PFX: version 3, authSafe as data ContentInfo, macData.
  return seq(int(3), dataContentInfo(authSafe), macData)
}
