import { randomBytes, type KeyObject } from 'node:crypto'
import { attribute, certificatesOnly, signedData } from '../cms.js'
import { octets, tlv, Tag } from '../der.js'
import { OID } from '../oids.js'
import { sealEnvelope } from './envelope.js'
import { FailInfo, MessageType, PkiStatus, type FailInfoName, type ReplyContext } from './scep-types.js'

/** The certificate and key kagi signs CertReps with (digitalSignature; RFC 8894 §2.2), and its chain. */
export interface CertRepSigner {
  certificate: Buffer
  privateKey: KeyObject
  chain: readonly Buffer[]
}

/** One CertRep's outcome. */
export type CertRepOutcome =
  | { status: 'SUCCESS'; issued: Buffer; recipient: Buffer; cipherOid: string; allowDes: boolean }
  | { status: 'FAILURE'; failInfo: FailInfoName }
  | { status: 'PENDING' }

const printable = (text: string): Buffer => tlv(Tag.printableString, Buffer.from(text, 'latin1'))

/**
 * A CertRep pkiMessage (RFC 8894 §3.3.2): a SignedData signed by the RA,
 * whose signed attributes carry messageType 3, pkiStatus, failInfo (on
 * FAILURE), the request's transactionID, a fresh senderNonce and the
 * request's senderNonce as recipientNonce. On SUCCESS its content is an
 * envelope, encrypted to the requester's certificate with the requester's
 * cipher, holding a certs-only SignedData with the issued certificate
 * (§3.3.2.1); FAILURE and PENDING carry empty content.
 */
export function certRep(context: ReplyContext, outcome: CertRepOutcome, signer: CertRepSigner): Buffer {
  const attributes = [
    attribute(OID.scepMessageType, printable(String(MessageType.CertRep))),
    attribute(OID.scepPkiStatus, printable(String(PkiStatus[outcome.status]))),
    attribute(OID.scepTransactionId, printable(context.transactionId)),
    attribute(OID.scepSenderNonce, octets(randomBytes(16))),
    attribute(OID.scepRecipientNonce, octets(context.senderNonce)),
  ]
  if (outcome.status === 'FAILURE') attributes.push(attribute(OID.scepFailInfo, printable(String(FailInfo[outcome.failInfo]))))
  // FAILURE and PENDING carry no envelope (§3.3.2), but an empty eContent rather than none: OpenSSL's PKCS7_verify
  // (certmonger) refuses a SignedData without content ("no content") and would report kagi unreachable, not the refusal.
  const content =
    outcome.status === 'SUCCESS' ? sealEnvelope(certificatesOnly([outcome.issued]), outcome.recipient, outcome.cipherOid, outcome.allowDes) : Buffer.alloc(0)
  return signedData({ content, attributes, digest: context.digest, signer, chain: signer.chain })
}
