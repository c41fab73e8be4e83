import { createHash } from 'node:crypto'
import { bitString, children, explicit, generalizedTime, octets, oid, readOid, readOne, seq, tlv, Tag, type Node } from './der.js'
import { extension } from './extensions.js'
import { OID } from './oids.js'
import { reasonCode, type RevocationReason } from './revocation.js'
import { serialToHex } from './serial.js'
import { signOffLoop, type Signer } from './signer.js'

/**
 * RFC 6960 (OCSP) codec: parses requests and builds responses, with no I/O.
 *
 * Requests are read with the small DER reader rather than pkijs: pkijs'
 * OCSPRequest took about 0.9 ms per request (schema comparison) and accepts
 * BER (indefinite lengths), while this reader takes a few microseconds and
 * checks tags and minimal length encodings on every node it visits.
 * Responses are written with the DER writer and signed in place, or off the
 * event loop by a signer that has a thread for it (signOffThread).
 */

/** The request is not a well-formed OCSPRequest; answer with `malformedRequest`. */
export class OcspMalformedError extends Error {
  override name = 'OcspMalformedError'
}

/** Hash algorithms a CertID may use, by OID: SHA-1 (what openssl sends) and SHA-2. */
const hashByOid = new Map<string, string>([
  [OID.sha1, 'sha1'],
  [OID.sha256, 'sha256'],
  [OID.sha384, 'sha384'],
  [OID.sha512, 'sha512'],
])
/** Requests with more CertIDs than this are refused (a cheap bound on work per request). */
const MAX_REQUESTS = 100
/** RFC 9654 §2.1: Nonce ::= OCTET STRING (SIZE(1..128)). */
const MAX_NONCE = 128

/**
 * @asn CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, issuerNameHash OCTET STRING,
 *   issuerKeyHash OCTET STRING, serialNumber CertificateSerialNumber }   (RFC 6960 §4.1.1)
 */
export interface OcspCertId {
  /** OID of the CertID hash algorithm. */
  hashAlgorithm: string
  issuerNameHash: Buffer
  issuerKeyHash: Buffer
  /** kagi form: lowercase hex, leading zero octets stripped. */
  serial: string
  /** The CertID DER exactly as received, echoed in the SingleResponse. */
  raw: Buffer
}

/** What kagi needs from an OCSPRequest. Buffers are views into the request bytes. */
export interface ParsedOcspRequest {
  certIds: OcspCertId[]
  /** Contents of the nonce extension's extnValue, to echo verbatim. */
  nonce?: Buffer
  /** Whether optionalSignature was present (it is not verified). */
  signed: boolean
}

function fail(message: string): never {
  throw new OcspMalformedError(message)
}

/** Checks presence, tag and minimal (DER, X.690 §10.1) length encoding of a node. */
function expect(node: Node | undefined, tag: number, what: string): Node {
  if (!node || node.tag !== tag) fail(`expected ${what}`)
  const length = node.value.length
  const header = length < 0x80 ? 2 : length < 0x100 ? 3 : length < 0x10000 ? 4 : length < 0x1000000 ? 5 : 6
  if (node.raw.length - length !== header) fail(`non-minimal length in ${what}`)
  return node
}

/** The children of a constructed node of the given tag. */
const kids = (node: Node | undefined, tag: number, what: string): Node[] => children(expect(node, tag, what))

/** The single element inside an EXPLICIT [n] wrapper. */
function unwrap(node: Node | undefined, tag: number, what: string): Node {
  const inner = kids(node, tag, what)
  if (inner.length !== 1) fail(`bad ${what}`)
  return inner[0]!
}

/**
 * Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension; Extension ::= SEQUENCE {
 * extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } (RFC 5280 §4.1).
 * Returns extnValue contents by OID; unknown extensions are ignored (RFC 6960 §4.4).
 */
function readExtensions(node: Node | undefined): Map<string, Buffer> {
  const list = kids(node, Tag.sequence, 'Extensions')
  if (list.length === 0) fail('empty Extensions')
  const out = new Map<string, Buffer>()
  for (const ext of list) {
    const fields = kids(ext, Tag.sequence, 'Extension')
    const id = readOid(expect(fields[0], Tag.oid, 'extnID'))
    const hasCritical = fields.length === 3
    if (hasCritical) expect(fields[1], Tag.boolean, 'critical')
    if (fields.length !== (hasCritical ? 3 : 2)) fail('bad Extension')
    if (out.has(id)) fail(`duplicate extension ${id}`)
    out.set(id, expect(fields[fields.length - 1], Tag.octetString, 'extnValue').value)
  }
  return out
}

/** A CertID (RFC 6960 §4.1.1). */
function readCertId(node: Node | undefined): OcspCertId {
  const [algorithm, nameHash, keyHash, serial, ...extra] = kids(node, Tag.sequence, 'CertID')
  const [algId, params, ...more] = kids(algorithm, Tag.sequence, 'hashAlgorithm')
  if (extra.length > 0 || more.length > 0 || (params && params.tag !== Tag.null)) fail('bad CertID')
  const serialNode = expect(serial, Tag.integer, 'serialNumber')
  if (serialNode.value.length === 0) fail('empty serialNumber')
  return {
    hashAlgorithm: readOid(expect(algId, Tag.oid, 'hash OID')),
    issuerNameHash: expect(nameHash, Tag.octetString, 'issuerNameHash').value,
    issuerKeyHash: expect(keyHash, Tag.octetString, 'issuerKeyHash').value,
    serial: serialToHex(serialNode.value),
    raw: node!.raw,
  }
}

/** Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL } */
function readRequest(node: Node): OcspCertId {
  const [certId, exts, ...extra] = kids(node, Tag.sequence, 'Request')
  if (extra.length > 0) fail('bad Request')
  if (exts) readExtensions(unwrap(exts, 0xa0, 'singleRequestExtensions'))
  return readCertId(certId)
}

/** The nonce extension's extnValue contents, after the RFC 9654 §2.1 size check. */
function readNonce(extensions: Map<string, Buffer>): Buffer | undefined {
  const value = extensions.get(OID.ocspNonce)
  if (!value) return undefined
  // Nonce ::= OCTET STRING; very old clients put raw bytes directly in extnValue.
  let length = value.length
  if (value[0] === Tag.octetString) {
    try {
      length = readOne(value).value.length
    } catch {
      // not an OCTET STRING after all: measure the raw bytes
    }
  }
  if (length < 1 || length > MAX_NONCE) fail(`nonce of ${length} octets`)
  return value
}

/**
 * Parses a DER OCSPRequest (RFC 6960 §4.1.1):
 *
 * @asn OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
 * TBSRequest ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, requestorName [1] EXPLICIT GeneralName OPTIONAL,
 *   requestList SEQUENCE OF Request, requestExtensions [2] EXPLICIT Extensions OPTIONAL }
 * Signature ::= SEQUENCE { signatureAlgorithm AlgorithmIdentifier, signature BIT STRING,
 *   certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
 *
 * Throws OcspMalformedError for anything else, including trailing bytes, an
 * empty requestList and more than 100 requests.
 */
export function parseOcspRequest(der: Uint8Array): ParsedOcspRequest {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength)
  try {
    const [tbs, signature, ...extra] = kids(readOne(buf), Tag.sequence, 'OCSPRequest')
    if (extra.length > 0) fail('bad OCSPRequest')
    if (signature) {
      const [algorithm, value] = kids(unwrap(signature, 0xa0, 'optionalSignature'), Tag.sequence, 'Signature')
      expect(algorithm, Tag.sequence, 'signatureAlgorithm')
      expect(value, Tag.bitString, 'signature')
    }
    const fields = kids(tbs, Tag.sequence, 'TBSRequest')
    let i = 0
    if (fields[i]?.tag === 0xa0) {
      const version = expect(unwrap(fields[i++], 0xa0, 'version'), Tag.integer, 'version').value
      if (version.length !== 1 || version[0] !== 0) fail('unsupported version')
    }
    if (fields[i]?.tag === 0xa1) unwrap(fields[i++], 0xa1, 'requestorName')
    const requests = kids(fields[i++], Tag.sequence, 'requestList')
    let nonce: Buffer | undefined
    if (fields[i]?.tag === 0xa2) {
      nonce = readNonce(readExtensions(unwrap(fields[i++], 0xa2, 'requestExtensions')))
    }
    if (i !== fields.length) fail('unexpected field in TBSRequest')
    if (requests.length === 0) fail('no requests')
    if (requests.length > MAX_REQUESTS) fail(`${requests.length} requests (at most ${MAX_REQUESTS})`)
    return { certIds: requests.map(readRequest), nonce, signed: signature !== undefined }
  } catch (error) {
    if (error instanceof OcspMalformedError) throw error
    throw new OcspMalformedError(error instanceof Error ? error.message : 'malformed OCSP request', { cause: error })
  }
}

/** Error statuses of OCSPResponseStatus (RFC 6960 §4.2.1); 4 is unused. */
export type OcspResponseStatus = 'malformedRequest' | 'internalError' | 'tryLater' | 'sigRequired' | 'unauthorized'
const statusCode: Readonly<Record<OcspResponseStatus, number>> = {
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
}

/** OCSPResponse ::= SEQUENCE { responseStatus OCSPResponseStatus, responseBytes [0] EXPLICIT ResponseBytes OPTIONAL } */
function ocspResponse(status: number, responseBytes?: Buffer): Buffer {
  const responseStatus = tlv(Tag.enumerated, Buffer.from([status]))
  return responseBytes ? seq(responseStatus, explicit(0, responseBytes)) : seq(responseStatus)
}

/** An unsigned OCSPResponse carrying only an error status (RFC 6960 §4.2.1, "responseBytes ... absent"). */
export function ocspErrorResponse(status: OcspResponseStatus): Buffer {
  return ocspResponse(statusCode[status])
}

/** The status reported for one certificate. */
export type OcspCertStatus = { status: 'good' } | { status: 'revoked'; revokedAt: Date; reason?: RevocationReason } | { status: 'unknown' }

/** Issuer name and key hashes by hash OID, for matching CertIDs. */
export interface OcspIssuerHashes {
  nameHashes: Map<string, Buffer>
  keyHashes: Map<string, Buffer>
}

/** subjectPublicKey BIT STRING contents without the unused-bits octet (RFC 6960 §4.1.1 issuerKeyHash, §4.2.1 KeyHash). */
function publicKeyBits(publicKeyInfo: Buffer): Buffer {
  const [, key] = children(readOne(publicKeyInfo))
  if (!key || key.tag !== Tag.bitString || key.value.length < 1) throw new Error('bad SubjectPublicKeyInfo')
  return key.value.subarray(1)
}

/**
 * The hashes a CertID for certificates of this issuer carries (RFC 6960 §4.1.1):
 * issuerNameHash over the DER of the issuer Name, issuerKeyHash over the issuer's
 * subjectPublicKey bits, for SHA-1, SHA-256, SHA-384 and SHA-512.
 */
export function issuerHashes(issuerSubjectDer: Buffer, issuerPublicKeyInfoDer: Buffer): OcspIssuerHashes {
  const key = publicKeyBits(issuerPublicKeyInfoDer)
  const nameHashes = new Map<string, Buffer>()
  const keyHashes = new Map<string, Buffer>()
  for (const [id, hash] of hashByOid) {
    nameHashes.set(id, createHash(hash).update(issuerSubjectDer).digest())
    keyHashes.set(id, createHash(hash).update(key).digest())
  }
  return { nameHashes, keyHashes }
}

/** Whether a CertID names this issuer (both hashes, with the CertID's own algorithm). */
export function certIdMatchesIssuer(certId: OcspCertId, hashes: OcspIssuerHashes): boolean {
  const name = hashes.nameHashes.get(certId.hashAlgorithm)
  const key = hashes.keyHashes.get(certId.hashAlgorithm)
  return !!name && !!key && name.equals(certId.issuerNameHash) && key.equals(certId.issuerKeyHash)
}

/** One answer in a response. */
export interface OcspSingleAnswer {
  certId: OcspCertId
  status: OcspCertStatus
  thisUpdate: Date
  nextUpdate?: Date
}

/**
 * @asn CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT UnknownInfo }
 * RevokedInfo ::= SEQUENCE { revocationTime GeneralizedTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
 * (RFC 6960 §4.2.1). As on kagi's CRLs, "unspecified" is written as an absent reason (RFC 5280 §5.3.1).
 */
function certStatus(status: OcspCertStatus): Buffer {
  if (status.status === 'good') return Buffer.from([0x80, 0])
  if (status.status === 'unknown') return Buffer.from([0x82, 0])
  const time = generalizedTime(status.revokedAt)
  if (!status.reason || status.reason === 'unspecified') return tlv(0xa1, time)
  return tlv(0xa1, time, explicit(0, tlv(Tag.enumerated, Buffer.from([reasonCode[status.reason]]))))
}

/**
 * @asn SingleResponse ::= SEQUENCE { certID CertID, certStatus CertStatus, thisUpdate GeneralizedTime,
 *   nextUpdate [0] EXPLICIT GeneralizedTime OPTIONAL, singleExtensions [1] EXPLICIT Extensions OPTIONAL } (RFC 6960 §4.2.1)
 */
function singleResponse(answer: OcspSingleAnswer): Buffer {
  const parts = [answer.certId.raw, certStatus(answer.status), generalizedTime(answer.thisUpdate)]
  if (answer.nextUpdate) parts.push(explicit(0, generalizedTime(answer.nextUpdate)))
  return seq(...parts)
}

/** What a successful OCSPResponse says, and who signs it. */
export interface OcspResponseInput {
  responderCertificate: Buffer
  signer: Signer
  answers: OcspSingleAnswer[]
  producedAt: Date
  nonce?: Buffer
}

/**
 * Builds and signs a successful OCSPResponse carrying a BasicOCSPResponse (RFC 6960 §4.2.1):
 *
 * @asn ResponseBytes ::= SEQUENCE { responseType OBJECT IDENTIFIER, response OCTET STRING }
 * BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, signatureAlgorithm AlgorithmIdentifier,
 *   signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
 * ResponseData ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, responderID ResponderID,
 *   producedAt GeneralizedTime, responses SEQUENCE OF SingleResponse, responseExtensions [1] EXPLICIT Extensions OPTIONAL }
 * ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash }   -- EXPLICIT TAGS module (Appendix B.1)
 *
 * The responder is identified byKey (SHA-1 of its subjectPublicKey bits), its
 * certificate is included in `certs` (delegated responder, §4.2.2.2), and a
 * request nonce is echoed as a responseExtension (§4.4.1).
 */
export function buildOcspResponse(input: OcspResponseInput): Buffer {
  const tbs = responseData(input)
  return signedResponse(input, tbs, input.signer.sign(tbs))
}

/**
 * {@link buildOcspResponse} with the signature made off the event loop
 * (Signer.signOffThread; a signer without it signs in place).
 */
export async function buildOcspResponseOffThread(input: OcspResponseInput): Promise<Buffer> {
  const tbs = responseData(input)
  return signedResponse(input, tbs, await signOffLoop(input.signer, tbs))
}

/** ResponseData, the part signed. */
function responseData(input: OcspResponseInput): Buffer {
  if (input.answers.length === 0) throw new RangeError('an OCSP response needs at least one answer')
  const parts = [responderIdOf(input.signer), generalizedTime(input.producedAt), seq(...input.answers.map(singleResponse))]
  if (input.nonce) parts.push(explicit(1, seq(extension(OID.ocspNonce, false, input.nonce))))
  return seq(...parts)
}

/** The OCSPResponse around ResponseData and its signature. */
function signedResponse(input: OcspResponseInput, tbs: Buffer, signature: Buffer): Buffer {
  const basic = seq(tbs, input.signer.algorithm, bitString(signature), certsOf(input.responderCertificate))
  return ocspResponse(0, seq(oid(OID.ocspBasic), octets(basic)))
}

/*
 * The parts of every answer that depend only on the responder, encoded once
 * per responder key and certificate (a fresh answer is signed per request,
 * so everything around the signature should cost as little as possible).
 */
const responderIds = new WeakMap<Signer, Buffer>()
const certsFields = new WeakMap<Buffer, Buffer>()

/** ResponderID byKey: [2] EXPLICIT OCTET STRING of the SHA-1 of the responder's subjectPublicKey bits (RFC 6960 §4.2.1). */
function responderIdOf(signer: Signer): Buffer {
  let id = responderIds.get(signer)
  if (!id) responderIds.set(signer, (id = explicit(2, octets(createHash('sha1').update(publicKeyBits(signer.publicKeyInfo)).digest()))))
  return id
}

/** certs [0] EXPLICIT SEQUENCE OF Certificate, holding the delegated responder's certificate (§4.2.2.2). */
function certsOf(responderCertificate: Buffer): Buffer {
  let certs = certsFields.get(responderCertificate)
  if (!certs) certsFields.set(responderCertificate, (certs = explicit(0, seq(responderCertificate))))
  return certs
}
