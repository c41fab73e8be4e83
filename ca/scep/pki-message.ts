import { webcrypto } from 'node:crypto'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import { OID } from '../oids.js'
import { ScepFailure, ScepMalformed, type FailInfoName, type ReplyContext, type ScepDigest } from './scep-types.js'

// pkijs verifies signatures through WebCrypto; Node's implementation serves.
pkijs.setEngine('node', new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as Crypto }))

/** Digests a SCEP client may sign with (RFC 8894 §3.5.2 GetCACaps "SHA-1", "SHA-256", …), by OID. */
export const scepDigests: Readonly<Record<string, ScepDigest>> = {
  [OID.sha1]: 'sha1',
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
}

/** A verified pkiMessage (RFC 8894 §3.2): its signed attributes, signer and encrypted content. */
export interface PkiMessage extends ReplyContext {
  messageType: number
  /** DER certificate whose key signed the message: self-signed for PKCSReq, the old certificate for RenewalReq (§3.3.1). */
  signer: Buffer
  /** DER ContentInfo of the pkcsPKIEnvelope (EnvelopedData, §3.2.2); absent only if the client sent none. */
  envelope?: Buffer
}


const bytes = (view: ArrayBuffer | Uint8Array): Buffer => Buffer.from(view instanceof Uint8Array ? view : new Uint8Array(view))

/** The single value of a signed attribute, or undefined. */
function attributeValue(attributes: readonly pkijs.Attribute[], type: string): asn1js.AsnType | undefined {
  const matching = attributes.filter((a) => a.type === type)
  // pkijs leaves `values` undefined for an empty SET.
  if (matching.length !== 1 || matching[0]!.values?.length !== 1) return undefined
  return matching[0]!.values[0]
}

function stringValue(value: asn1js.AsnType | undefined): string | undefined {
  if (value instanceof asn1js.PrintableString || value instanceof asn1js.Utf8String || value instanceof asn1js.IA5String) return value.valueBlock.value
  return undefined
}

function octetValue(value: asn1js.AsnType | undefined): Buffer | undefined {
  return value instanceof asn1js.OctetString ? bytes(value.getValue()) : undefined
}

/**
 * Parses a PKIOperation body and verifies its signature (RFC 8894 §3.2,
 * RFC 5652 §5.6): one SignerInfo, signed attributes with messageType,
 * transactionID and senderNonce, the signer's certificate in the message,
 * and a signature by that certificate's key over the attributes, whose
 * messageDigest matches the content. Throws {@link ScepMalformed} when
 * there is nothing to answer (not CMS, no signed attributes), and
 * {@link ScepFailure} (with the reply context on `context`) when the
 * message can be answered but not trusted.
 */
export async function readPkiMessage(der: Buffer): Promise<PkiMessage> {
  let signedData: pkijs.SignedData
  try {
    const asn = asn1js.fromBER(new Uint8Array(der))
    if (asn.offset === -1 || asn.offset !== der.length) throw new Error('not one BER value')
    const contentInfo = new pkijs.ContentInfo({ schema: asn.result })
    if (contentInfo.contentType !== OID.signedData) throw new Error('not SignedData')
    signedData = new pkijs.SignedData({ schema: contentInfo.content })
  } catch {
    throw new ScepMalformed('the body is not a CMS SignedData pkiMessage (RFC 8894 §3.2)')
  }
  if (signedData.signerInfos.length !== 1) throw new ScepMalformed('a pkiMessage has exactly one SignerInfo')
  const signerInfo = signedData.signerInfos[0]!
  const attributes = signerInfo.signedAttrs?.attributes ?? []
  const messageType = Number(stringValue(attributeValue(attributes, OID.scepMessageType)))
  const transactionId = stringValue(attributeValue(attributes, OID.scepTransactionId))
  const senderNonce = octetValue(attributeValue(attributes, OID.scepSenderNonce))
  // transactionID is a PrintableString (§3.2.1.1): printable ASCII only, which also keeps NULs out of the database.
  const printable = transactionId !== undefined && /^[\x20-\x7e]{1,256}$/.test(transactionId)
  if (!Number.isInteger(messageType) || !printable || !senderNonce || senderNonce.length < 8 || senderNonce.length > 64) {
    throw new ScepMalformed('the pkiMessage lacks messageType, transactionID or senderNonce (RFC 8894 §3.2.1)')
  }
  const digest = scepDigests[signerInfo.digestAlgorithm.algorithmId] ?? 'sha256'
  const context: ReplyContext = { transactionId: transactionId!, senderNonce: senderNonce!, digest }
  const fail = (failInfo: FailInfoName, message: string) => new ScepFailure(failInfo, message, context)
  if (!scepDigests[signerInfo.digestAlgorithm.algorithmId]) throw fail('badAlg', `digest ${signerInfo.digestAlgorithm.algorithmId} is not offered in GetCACaps`)

  let signer: Buffer | undefined
  try {
    const certificate = (signedData.certificates ?? []).find(
      (c): c is pkijs.Certificate =>
        c instanceof pkijs.Certificate &&
        signerInfo.sid instanceof pkijs.IssuerAndSerialNumber &&
        c.issuer.isEqual(signerInfo.sid.issuer) &&
        c.serialNumber.isEqual(signerInfo.sid.serialNumber),
    )
    signer = certificate && bytes(certificate.toSchema().toBER(false))
  } catch {
    signer = undefined // a certificate pkijs parsed but cannot compare or encode is no signer kagi can check
  }
  if (!signer) throw fail('badMessageCheck', 'the certificate that signed the pkiMessage is not in it')
  const content = signedData.encapContentInfo.eContent
  let verified = false
  try {
    verified = await signedData.verify({ signer: 0, checkChain: false, data: content ? content.getValue() : new ArrayBuffer(0) })
  } catch {
    verified = false
  }
  if (!verified) throw fail('badMessageCheck', 'the pkiMessage signature does not verify')
  return {
    messageType,
    transactionId: transactionId!,
    senderNonce,
    signer,
    digest,
    envelope: content ? bytes(content.getValue()) : undefined,
  }
}
