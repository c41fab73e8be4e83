import { constants, createCipheriv, createDecipheriv, createHmac, privateDecrypt, publicEncrypt, randomBytes, X509Certificate, type KeyObject } from 'node:crypto'
import * as asn1js from 'asn1js'
import forge from 'node-forge'
import * as pkijs from 'pkijs'
import { certificateInfo } from '../certificate-info.js'
import { explicit, implicit, int, nullValue, octets, oid, seq, set, tlv } from '../der.js'
import { OID } from '../oids.js'
import { ScepFailure } from './scep-types.js'

/** A content cipher of RFC 8894 §3.5.2 (GetCACaps AES, DES3; single DES only when allowed), by OID. */
interface Cipher {
  /** OpenSSL name for node:crypto, or `forge` for single DES, which Node 20's OpenSSL 3 no longer offers. */
  node?: string
  keyBytes: number
  ivBytes: number
}

const ciphers: Readonly<Record<string, Cipher>> = {
  [OID.aes128Cbc]: { node: 'aes-128-cbc', keyBytes: 16, ivBytes: 16 },
  [OID.aes192Cbc]: { node: 'aes-192-cbc', keyBytes: 24, ivBytes: 16 },
  [OID.aes256Cbc]: { node: 'aes-256-cbc', keyBytes: 32, ivBytes: 16 },
  [OID.desEde3Cbc]: { node: 'des-ede3-cbc', keyBytes: 24, ivBytes: 8 },
  [OID.desCbc]: { keyBytes: 8, ivBytes: 8 },
}

/** Who may open an envelope: a certificate kagi decrypts with, and its key (RSA: SCEP key transport, RFC 8894 §3.2.2). */
export interface EnvelopeRecipient {
  certificate: Buffer
  privateKey: KeyObject
}

const bytes = (view: ArrayBuffer | Uint8Array): Buffer => Buffer.from(view instanceof Uint8Array ? view : new Uint8Array(view))

/**
 * The octets of encryptedContent, `[0] IMPLICIT OCTET STRING` (RFC 5652 §6.1):
 * pkijs hands it over as a bare block, primitive or (BER, from some clients)
 * constructed of OCTET STRING segments.
 */
function encryptedOctets(node: asn1js.AsnType): Buffer {
  const block = node as unknown as { idBlock: { isConstructed: boolean }; valueBlock: { valueHexView?: Uint8Array; value?: asn1js.AsnType[] } }
  if (!block.idBlock.isConstructed) return bytes(block.valueBlock.valueHexView ?? new Uint8Array(0))
  return Buffer.concat((block.valueBlock.value ?? []).map(encryptedOctets))
}

function symmetric(cipherOid: string, allowDes: boolean): Cipher {
  const cipher = ciphers[cipherOid]
  if (!cipher) throw new ScepFailure('badAlg', `content cipher ${cipherOid} is not offered in GetCACaps`)
  if (!cipher.node && !allowDes) throw new ScepFailure('badAlg', 'single DES is refused (RFC 8894 §3.5.2); set KAGI_SCEP_ALLOW_DES=true for clients that cannot do better')
  return cipher
}

function runCipher(cipher: Cipher, decrypt: boolean, key: Buffer, iv: Buffer, data: Buffer): Buffer {
  if (cipher.node) {
    const c = decrypt ? createDecipheriv(cipher.node, key, iv) : createCipheriv(cipher.node, key, iv)
    return Buffer.concat([c.update(data), c.final()])
  }
  // Single DES (1.3.14.3.2.7) through node-forge: OpenSSL 3 keeps it in the legacy provider, which Node 20 does not load.
  const c = decrypt ? forge.cipher.createDecipher('DES-CBC', key.toString('binary')) : forge.cipher.createCipher('DES-CBC', key.toString('binary'))
  c.start({ iv: iv.toString('binary') })
  c.update(forge.util.createBuffer(data.toString('binary')))
  if (!c.finish()) throw new Error('bad padding')
  return Buffer.from(c.output.getBytes(), 'binary')
}

/**
 * EME-PKCS1-v1_5 decoding (RFC 8017 §7.2.2 step 3): EM = 0x00 || 0x02 || PS
 * (at least 8 non-zero octets) || 0x00 || M. The scan visits every octet and
 * decides with arithmetic, not early returns, so its time does not depend on
 * where (or whether) the padding is wrong. Returns M when it is well formed
 * and `keyBytes` long.
 */
function decodePkcs1(em: Buffer, keyBytes: number): Buffer | undefined {
  let good = em.length >= 11 && ((em[0]! | (em[1]! ^ 2)) === 0) ? 1 : 0
  let separator = 0
  let found = 0
  for (let i = 2; i < em.length; i++) {
    const isZero = ((em[i]! - 1) >>> 31) & 1 // 1 only for 0x00
    separator |= -(isZero & (found ^ 1)) & i // the first zero's index
    found |= isZero
  }
  good &= found & (separator >= 10 ? 1 : 0) & (em.length - separator - 1 === keyBytes ? 1 : 0)
  return good ? em.subarray(separator + 1) : undefined
}

/**
 * RSAES-PKCS1-v1_5 decryption of the content-encryption key (RFC 8017 §7.2.2).
 * Node 20 refuses PKCS#1 v1.5 padding in privateDecrypt (CVE-2023-46809, the
 * Marvin attack), so OpenSSL does only the raw RSA operation (RSA_NO_PADDING,
 * 0.3 ms; node-forge's took 28 ms of JavaScript, a cheap denial of service) and
 * {@link decodePkcs1} the padding. Against padding oracles: a bad padding or a
 * wrong length yields a key derived from the ciphertext (the "implicit
 * rejection" of OpenSSL 3.2 and draft-irtf-cfrg-rsa-guidance), so the caller
 * fails later, on the content, with the same failInfo either way.
 */
function decryptKeyPkcs1(privateKey: KeyObject, encryptedKey: Buffer, keyBytes: number): Buffer {
  const rejection = createHmac('sha256', privateKey.export({ type: 'pkcs8', format: 'der' })).update(encryptedKey).digest()
  const fallback = Buffer.concat([rejection, createHmac('sha256', rejection).update('more').digest()]).subarray(0, keyBytes)
  let em: Buffer
  try {
    em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, encryptedKey)
  } catch {
    return fallback // not the modulus's length, or a value above it
  }
  return decodePkcs1(em, keyBytes) ?? fallback
}

function matchesRecipient(rid: pkijs.KeyTransRecipientInfo['rid'], certificate: Buffer): boolean {
  if (!(rid instanceof pkijs.IssuerAndSerialNumber)) return false
  try {
    const info = certificateInfo(certificate)
    return bytes(rid.issuer.toSchema().toBER(false)).equals(info.issuer) && bytes(rid.serialNumber.valueBlock.valueHexView).equals(info.serial)
  } catch {
    return false // a recipient identifier pkijs parsed but cannot encode again names nobody kagi knows
  }
}

/**
 * Opens a pkcsPKIEnvelope (RFC 8894 §3.2.2, RFC 5652 §6): finds the
 * KeyTransRecipientInfo addressed to one of `recipients`, recovers the key
 * (RSAES-PKCS1-v1_5 or RSAES-OAEP with SHA-1) and decrypts the content with
 * AES-CBC, 3DES-CBC, or single DES when `allowDes`. Any failure is a
 * {@link ScepFailure}: badAlg for what kagi does not offer, badMessageCheck
 * for an envelope kagi cannot open.
 */
export function openEnvelope(der: Buffer, recipients: readonly EnvelopeRecipient[], allowDes: boolean): { content: Buffer; cipherOid: string } {
  let enveloped: pkijs.EnvelopedData
  try {
    const asn = asn1js.fromBER(new Uint8Array(der))
    if (asn.offset === -1) throw new Error('not BER')
    const contentInfo = new pkijs.ContentInfo({ schema: asn.result })
    if (contentInfo.contentType !== OID.envelopedData) throw new Error('not EnvelopedData')
    enveloped = new pkijs.EnvelopedData({ schema: contentInfo.content })
  } catch {
    throw new ScepFailure('badMessageCheck', 'the pkcsPKIEnvelope is not a CMS EnvelopedData')
  }
  const info = enveloped.encryptedContentInfo
  const cipherOid = info.contentEncryptionAlgorithm.algorithmId
  const cipher = symmetric(cipherOid, allowDes)
  const iv = info.contentEncryptionAlgorithm.algorithmParams
  if (!(iv instanceof asn1js.OctetString) || iv.valueBlock.valueHexView.length !== cipher.ivBytes || !info.encryptedContent) {
    throw new ScepFailure('badMessageCheck', 'the envelope has no IV of the right size or no content')
  }
  for (const recipientInfo of enveloped.recipientInfos) {
    const ktri = recipientInfo.value
    if (!(ktri instanceof pkijs.KeyTransRecipientInfo)) continue
    const recipient = recipients.find((r) => matchesRecipient(ktri.rid, r.certificate))
    if (!recipient) continue
    const encryptedKey = bytes(ktri.encryptedKey.getValue())
    const keyAlgorithm = ktri.keyEncryptionAlgorithm.algorithmId
    let key: Buffer
    if (keyAlgorithm === OID.rsaEncryption) key = decryptKeyPkcs1(recipient.privateKey, encryptedKey, cipher.keyBytes)
    else if (keyAlgorithm === OID.rsaesOaep && ktri.keyEncryptionAlgorithm.algorithmParams === undefined) {
      try {
        key = privateDecrypt({ key: recipient.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING }, encryptedKey)
      } catch {
        throw new ScepFailure('badMessageCheck', 'the content-encryption key does not decrypt')
      }
    } else throw new ScepFailure('badAlg', `key transport ${keyAlgorithm} is not supported (use rsaEncryption)`)
    try {
      return { content: runCipher(cipher, true, key, bytes(iv.valueBlock.valueHexView), encryptedOctets(info.encryptedContent)), cipherOid }
    } catch {
      throw new ScepFailure('badMessageCheck', 'the envelope content does not decrypt')
    }
  }
  throw new ScepFailure('badMessageCheck', "the envelope is not encrypted to kagi's SCEP certificate (fetch GetCACert again)")
}

/**
 * Encrypts `content` to the certificate `recipient` (RFC 5652 §6.1, RFC 8894
 * §3.3.2: the CertRep envelope goes to the key that signed the request),
 * with the content cipher the client used:
 *
 * @asn
 * ContentInfo { id-envelopedData, [0] EXPLICIT EnvelopedData {
 *   version 0, recipientInfos SET { KeyTransRecipientInfo { version 0,
 *     rid IssuerAndSerialNumber, keyEncryptionAlgorithm rsaEncryption NULL, encryptedKey } },
 *   encryptedContentInfo { id-data, contentEncryptionAlgorithm { cipher, iv }, [0] IMPLICIT encryptedContent } } }
 */
export function sealEnvelope(content: Buffer, recipient: Buffer, cipherOid: string, allowDes: boolean): Buffer {
  const cipher = symmetric(cipherOid, allowDes)
  const publicKey = new X509Certificate(recipient).publicKey
  if (publicKey.asymmetricKeyType !== 'rsa') throw new ScepFailure('badAlg', 'the reply can only be encrypted to an RSA key (RFC 8894 §3.2.2)')
  const key = randomBytes(cipher.keyBytes)
  const iv = randomBytes(cipher.ivBytes)
  const encryptedKey = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, key)
  const info = certificateInfo(recipient)
  const ktri = seq(int(0), seq(info.issuer, tlv(0x02, info.serial)), seq(oid(OID.rsaEncryption), nullValue()), octets(encryptedKey))
  const encryptedContentInfo = seq(oid(OID.data), seq(oid(cipherOid), octets(iv)), implicit(0, runCipher(cipher, false, key, iv, content)))
  return seq(oid(OID.envelopedData), explicit(0, seq(int(0), set(ktri), encryptedContentInfo)))
}
