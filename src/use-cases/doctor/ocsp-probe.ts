import { randomBytes, X509Certificate, createPublicKey } from 'node:crypto'
import { certificateInfo, issuerHashes, readTime, serialToHex, type CertificateInfo } from '../../../ca/index.js'
import { children, explicit, nullValue, octets, oid, readOid, readOne, seq, Tag, uint, type Node } from '../../../ca/der.js'
import { extension } from '../../../ca/extensions.js'
import { OID } from '../../../ca/oids.js'
import { signedPartVerifies } from './signature.js'

/** A request kagi's doctor sends: one CertID (SHA-1, as openssl and PAN-OS send it) and a nonce. */
export interface OcspProbe {
  der: Buffer
  serial: string
  nonce: Buffer
}

/**
 * Builds an OCSPRequest (RFC 6960 §4.1.1) for certificate `serial` of
 * `issuer`, with a 16-octet nonce (RFC 8954 §2.1: the extnValue holds
 * `Nonce ::= OCTET STRING`), so the answer must be signed for this request.
 */
export function ocspProbe(issuer: CertificateInfo, serial: Buffer): OcspProbe {
  const hashes = issuerHashes(issuer.subject, issuer.publicKeyInfo)
  const certId = seq(seq(oid(OID.sha1), nullValue()), octets(hashes.nameHashes.get(OID.sha1)!), octets(hashes.keyHashes.get(OID.sha1)!), uint(serial))
  const nonce = randomBytes(16)
  const tbs = seq(seq(seq(certId)), explicit(2, seq(extension(OID.ocspNonce, false, octets(nonce)))))
  return { der: seq(tbs), serial: serialToHex(serial), nonce }
}

/** What an answer to a probe said, once its signature and signer were checked. */
export type OcspVerdict =
  | { kind: 'answer'; status: 'good' | 'revoked' | 'unknown'; thisUpdate: Date; nextUpdate?: Date; nonceEchoed: boolean; responder: string }
  /** Anything else, in one sentence. */
  | { kind: 'problem'; problem: string }

/** RFC 6960 §4.2.1 OCSPResponseStatus values (4 is unused). */
const responseStatuses = ['successful', 'malformedRequest', 'internalError', 'tryLater', '(unused)', 'sigRequired', 'unauthorized']

const problem = (text: string): OcspVerdict => ({ kind: 'problem', problem: text })

/**
 * Reads an OCSPResponse (RFC 6960 §4.2.1) to `probe` and checks it as a
 * relying party would (§3.2): successful, a BasicOCSPResponse whose
 * signature verifies under the responder certificate it carries (or the
 * issuer itself), that responder certificate issued by `issuer`, within its
 * validity and with id-kp-OCSPSigning (§4.2.2.2), and a SingleResponse for
 * the serial asked about.
 *
 * @asn OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT ResponseBytes OPTIONAL }
 * ResponseBytes ::= SEQUENCE { responseType OBJECT IDENTIFIER, response OCTET STRING }
 * BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, signatureAlgorithm AlgorithmIdentifier,
 *   signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
 * ResponseData ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, responderID ResponderID,
 *   producedAt GeneralizedTime, responses SEQUENCE OF SingleResponse, responseExtensions [1] EXPLICIT Extensions OPTIONAL }
 */
export function readOcspAnswer(der: Buffer, probe: OcspProbe, issuer: CertificateInfo, now: Date): OcspVerdict {
  let top: Node[]
  try {
    top = children(readOne(der))
  } catch {
    return problem('the answer is not an OCSP response (not DER); is something other than kagi answering at this URL?')
  }
  const [status, bytes] = top
  if (status?.tag !== Tag.enumerated) return problem('the answer is not an OCSP response')
  const code = status.value[0] ?? 255
  if (code !== 0) return problem(`the responder answered ${responseStatuses[code] ?? `status ${code}`} instead of a signed answer`)
  try {
    const [type, response] = children(children(bytes!)[0]!)
    if (readOid(type!) !== OID.ocspBasic) return problem(`the answer is of type ${readOid(type!)}, not a BasicOCSPResponse`)
    const [tbs, algorithm, signature, certs] = children(readOne(response!.value))
    const responderDer = certs ? children(children(certs)[0]!)[0]?.raw : undefined
    const responder = responderDer ? certificateInfo(Buffer.from(responderDer)) : issuer
    if (!signedPartVerifies(tbs!.raw, algorithm!, signature!, responder.publicKeyInfo)) return problem('the answer\'s signature does not verify under the responder certificate it carries')
    if (responderDer) {
      const signer = responderProblem(Buffer.from(responderDer), responder, issuer, now)
      if (signer) return problem(signer)
    }
    return single(tbs!, probe, responderDer ? 'a delegated responder certificate' : 'the issuing CA itself')
  } catch (error) {
    return problem(`the answer is not a well-formed BasicOCSPResponse (${(error as Error).message})`)
  }
}

/** Why the delegated responder certificate is not one a client accepts (RFC 6960 §4.2.2.2), or undefined. */
function responderProblem(der: Buffer, responder: CertificateInfo, issuer: CertificateInfo, now: Date): string | undefined {
  const cert = new X509Certificate(der)
  if (!cert.verify(createPublicKey({ key: issuer.publicKeyInfo, format: 'der', type: 'spki' })) || !responder.issuer.equals(issuer.subject)) {
    return 'the responder certificate in the answer was not issued by the issuing CA (clients reject the answer)'
  }
  if (!(cert.keyUsage ?? []).includes(OID.ocspSigning)) return 'the responder certificate lacks the OCSP signing extended key usage (clients reject the answer)'
  if (now < responder.notBefore || now > responder.notAfter) return `the responder certificate is not valid now (${responder.notBefore.toISOString()} .. ${responder.notAfter.toISOString()})`
  return undefined
}

/** The SingleResponse about the probe's serial, and whether the nonce came back. */
function single(tbs: Node, probe: OcspProbe, responder: string): OcspVerdict {
  const fields = children(tbs)
  let i = fields[0]?.tag === 0xa0 ? 1 : 0
  i += 2 // responderID, producedAt
  const responses = children(fields[i++]!)
  const extensions = fields[i]?.tag === 0xa1 ? children(children(fields[i]!)[0]!) : []
  const echoed = extensions.some((e) => {
    const [id, value] = children(e)
    return readOid(id!) === OID.ocspNonce && readOne(value!.value).value.equals(probe.nonce)
  })
  for (const response of responses) {
    const [certId, certStatus, thisUpdate, next] = children(response)
    if (serialToHex(children(certId!)[3]!.value) !== probe.serial) continue
    const status = certStatus!.tag === 0x80 ? 'good' : certStatus!.tag === 0xa1 ? 'revoked' : 'unknown'
    const nextUpdate = next?.tag === 0xa0 ? readTime(children(next)[0]!) : undefined
    return { kind: 'answer', status, thisUpdate: readTime(thisUpdate!), nextUpdate, nonceEchoed: echoed, responder }
  }
  return problem(`the answer says nothing about serial ${probe.serial}, the one asked about`)
}
