/**
 * SCEP's vocabulary (RFC 8894 §3.2.1.2–§3.2.1.4): message types, pkiStatus
 * and failInfo values, which travel as PrintableString decimal numbers.
 */

/** messageType (§3.2.1.2). */
export const MessageType = {
  CertRep: 3,
  RenewalReq: 17,
  PKCSReq: 19,
  CertPoll: 20, // GetCertInitial in older drafts
  GetCert: 21,
  GetCRL: 22,
} as const

/** pkiStatus (§3.2.1.3). */
export const PkiStatus = { SUCCESS: 0, FAILURE: 2, PENDING: 3 } as const
export type PkiStatusValue = (typeof PkiStatus)[keyof typeof PkiStatus]

/** failInfo (§3.2.1.4). */
export const FailInfo = { badAlg: 0, badMessageCheck: 1, badRequest: 2, badTime: 3, badCertId: 4 } as const
export type FailInfoName = keyof typeof FailInfo

/**
 * A request kagi refuses with a FAILURE CertRep: `failInfo` goes to the
 * client, `message` only to kagi's log and audit (the client learns no more
 * than the RFC's code).
 */
export class ScepFailure extends Error {
  constructor(
    readonly failInfo: FailInfoName,
    message: string,
    /** Set once the request's signed attributes were read: what the FAILURE CertRep echoes. */
    public context?: ReplyContext,
  ) {
    super(message)
  }
}

/** Digests a CertRep may be signed with: the one the client used (GetCACaps "SHA-1", "SHA-256", …). */
export type ScepDigest = 'sha1' | 'sha256' | 'sha384' | 'sha512'

/** What any reply echoes from the request (RFC 8894 §3.3.2): its transactionID, its senderNonce as recipientNonce, its digest. */
export interface ReplyContext {
  transactionId: string
  senderNonce: Buffer
  digest: ScepDigest
}

/**
 * A body that is not a SCEP message at all (no signed attributes to answer
 * with): the HTTP layer answers 400, since a CertRep needs the request's
 * transactionID and senderNonce.
 */
export class ScepMalformed extends Error {}
