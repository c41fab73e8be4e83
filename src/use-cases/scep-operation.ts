import { createHash, X509Certificate } from 'node:crypto'
import { certificateInfo, derToPem, pemToDer, serialToHex } from '../../ca/index.js'
import {
  certRep,
  csrClaims,
  MessageType,
  openEnvelope,
  readPkiMessage,
  ScepFailure,
  type CertRepOutcome,
  type FailInfoName,
  type PkiMessage,
  type ReplyContext,
} from '../../ca/scep/index.js'
import { ChallengeSpentError } from '../db/enrollment-store.js'
import { findScepChallenge, findScepTransaction } from '../db/scep-repository.js'
import { toHttpError } from '../errors.js'
import type { KagiServices } from '../startup/services.js'
import { enroll, type EnrollRequest, type EnrollServices } from './enroll.js'
import { identityFromClaims, type ScepIdentity } from './scep-identity.js'

export type ScepServices = EnrollServices & Pick<KagiServices, 'scepRa' | 'log'>

/** How the request reached kagi: the profile the URL insists on (`/scep?profile=`), and the client's address. */
export interface ScepCall {
  profile?: 'user' | 'device'
  clientIp?: string
}

/** A CertRep and what it said, for the log (never the challenge). */
export interface ScepAnswer {
  der: Buffer
  status: CertRepOutcome['status']
  failInfo?: FailInfoName
  /** Why it failed, in words, for kagi's log only: the client learns no more than failInfo (RFC 8894 §3.3.2.2). */
  reason?: string
  serial?: string
}

/** A RenewalReq is accepted in the last third of the old certificate's life (RFC 8894 §3.3.1.2 leaves the window to the CA). */
const RENEWAL_WINDOW = 1 / 3

/**
 * One PKIOperation (RFC 8894 §3.3): verify and decrypt the request, authorize
 * it, enroll through the one pipeline, and answer a signed CertRep.
 * - PKCSReq (19) needs an unspent, unexpired challenge; a `record` challenge
 *   fixes user, device and profile, an NDES one lets the CSR's names find a
 *   known user or device (scep-identity.ts). The challenge is spent in the
 *   transaction that stores the certificate.
 * - RenewalReq (17) must be signed by an active, unexpired certificate kagi
 *   issued, in its last third of life; the new certificate has the same
 *   owner, device and profile and supersedes it.
 * - CertPoll/GetCertInitial (20) returns the certificate already issued for
 *   this transactionID to the same key (kagi never answers PENDING, so this
 *   is how a client whose CertRep was lost gets it).
 * Every other type is refused with badRequest; no type skips these checks.
 * A PKCSReq or RenewalReq repeated with the same transactionID and key gets
 * the certificate issued the first time, not a second one. Throws
 * ScepMalformed when the body is no pkiMessage at all (HTTP 400).
 */
export async function scepOperation(services: ScepServices, body: Buffer, call: ScepCall): Promise<ScepAnswer> {
  const ra = await services.scepRa.get()
  const signer = { certificate: ra.certificate, privateKey: ra.privateKey, chain: services.chainDer.slice(0, 1) }
  const failure = (context: ReplyContext, error: ScepFailure): ScepAnswer => ({
    der: certRep(context, { status: 'FAILURE', failInfo: error.failInfo }, signer),
    status: 'FAILURE',
    failInfo: error.failInfo,
    reason: error.message,
  })
  let message: PkiMessage
  try {
    message = await readPkiMessage(body)
  } catch (error) {
    if (error instanceof ScepFailure && error.context) return failure(error.context, error)
    throw error
  }
  try {
    if (!message.envelope) throw new ScepFailure('badMessageCheck', 'the pkiMessage has no pkcsPKIEnvelope')
    const allowDes = services.config.scep.allowDes
    const opened = openEnvelope(message.envelope, [{ certificate: ra.certificate, privateKey: ra.privateKey }], allowDes)
    const issued = await authorizeAndIssue(services, message, opened.content, call)
    const der = certRep(message, { status: 'SUCCESS', issued: issued.der, recipient: message.signer, cipherOid: opened.cipherOid, allowDes }, signer)
    return { der, status: 'SUCCESS', serial: issued.serial }
  } catch (error) {
    if (error instanceof ScepFailure) return failure(message, error)
    if (error instanceof ChallengeSpentError) return failure(message, new ScepFailure('badRequest', error.message))
    // The pipeline's refusals (weak key, bad CSR, host name of another user…) are the client's fault: a FAILURE, not a 5xx.
    const http = toHttpError(error)
    if (http.internal) throw error
    const failInfo: FailInfoName = http.body.error.code === 'key_rejected' ? 'badAlg' : 'badRequest'
    return failure(message, new ScepFailure(failInfo, `${http.body.error.code}: ${http.body.error.message}`))
  }
}

/**
 * SHA-256 of the signer's SubjectPublicKeyInfo: the requester's key, which a
 * retry or GetCertInitial must sign with again. It must be RSA, since the
 * reply is encrypted to it (RFC 8894 §3.2.2); checked before anything is
 * issued, so a reply that cannot be sealed never leaves a certificate behind.
 */
function keyHashOf(signerCertificate: Buffer): Buffer {
  let key
  try {
    key = new X509Certificate(signerCertificate).publicKey
    certificateInfo(signerCertificate) // the strict DER reader the reply's envelope addresses it with (sealEnvelope)
  } catch {
    throw new ScepFailure('badMessageCheck', 'the signer certificate cannot be read')
  }
  if (key.asymmetricKeyType !== 'rsa') throw new ScepFailure('badAlg', 'the request must be signed with an RSA key, which the reply is encrypted to (RFC 8894 §3.2.2)')
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest()
}

async function authorizeAndIssue(services: ScepServices, message: PkiMessage, content: Buffer, call: ScepCall): Promise<{ der: Buffer; serial: string }> {
  const keyHash = keyHashOf(message.signer)
  const known = () => findScepTransaction(services.db, message.transactionId, keyHash)
  switch (message.messageType) {
    case MessageType.CertPoll: {
      const found = await known()
      if (!found) throw new ScepFailure('badCertId', 'no certificate was issued for this transactionID and key')
      return { der: Buffer.from(found.der), serial: found.serial }
    }
    case MessageType.PKCSReq:
    case MessageType.RenewalReq: {
      const found = await known()
      if (found) return { der: Buffer.from(found.der), serial: found.serial }
      const authorized = message.messageType === MessageType.PKCSReq ? await byChallenge(services, content, call) : await byRenewal(services, message.signer, call)
      const request: EnrollRequest = {
        actor: { label: authorized.actor, role: 'mdm', clientIp: call.clientIp },
        email: authorized.identity.email,
        profile: authorized.identity.profile,
        device: authorized.identity.device as EnrollRequest['device'],
        key: { csr: derToPem(content, 'CERTIFICATE REQUEST') },
        deliver: { as: 'certificate' },
        current: 'supersede',
        scep: { challengeId: authorized.challengeId, transactionId: message.transactionId, keyHash, replaces: authorized.replaces },
      }
      const result = await enroll(services, request)
      return { der: pemToDer(result.certificatePem, 'CERTIFICATE'), serial: result.serial }
    }
    default:
      throw new ScepFailure('badRequest', `messageType ${message.messageType} is not supported (PKCSReq, RenewalReq and GetCertInitial are)`)
  }
}

interface Authorization {
  identity: Omit<ScepIdentity, 'device'> & { device?: Record<string, unknown> }
  actor: string
  challengeId?: string
  replaces?: string
}

/** PKCSReq: the CSR's challengePassword must be an unspent, unexpired challenge of the profile the URL names (if it names one). */
async function byChallenge(services: ScepServices, csr: Buffer, call: ScepCall): Promise<Authorization> {
  const claims = csrClaims(csr)
  if (!claims.challengePassword) throw new ScepFailure('badRequest', 'the CSR has no challengePassword')
  const row = await findScepChallenge(services.db, claims.challengePassword.trim())
  if (!row) throw new ScepFailure('badRequest', 'unknown challenge')
  if (row.used_at) throw new ScepFailure('badRequest', 'the challenge was already used')
  if (new Date(row.expires_at).getTime() <= Date.now()) throw new ScepFailure('badRequest', 'the challenge has expired')
  const actor = `scep:${row.created_by}`
  if (row.kind === 'ndes') return { identity: await identityFromClaims(services, claims, call.profile), actor, challengeId: row.id }
  if (call.profile && call.profile !== row.profile) throw new ScepFailure('badRequest', `the challenge is for the ${row.profile} profile, not ${call.profile}`)
  return { identity: { email: row.email!, profile: row.profile!, device: row.device ?? undefined }, actor, challengeId: row.id }
}

/** RenewalReq: signed by a certificate kagi issued, active, unexpired and in the renewal window; same owner, device and profile. */
async function byRenewal(services: ScepServices, signer: Buffer, call: ScepCall): Promise<Authorization> {
  let serial: string
  try {
    serial = serialToHex(certificateInfo(signer).serial)
  } catch {
    throw new ScepFailure('badRequest', 'the RenewalReq signer certificate cannot be read')
  }
  const row = await services.db
    .selectFrom('certificate')
    .innerJoin('app_user', 'app_user.id', 'certificate.user_id')
    .select(['certificate.der', 'certificate.status', 'certificate.profile', 'certificate.device_id', 'certificate.not_before', 'certificate.not_after', 'app_user.email'])
    .where('certificate.serial', '=', serial)
    .executeTakeFirst()
  if (!row || !Buffer.from(row.der).equals(signer)) throw new ScepFailure('badRequest', 'the RenewalReq is not signed by a certificate kagi issued')
  if (row.status !== 'active') throw new ScepFailure('badRequest', `the certificate ${serial} that signed the RenewalReq is revoked`)
  if (row.profile !== 'user' && row.profile !== 'device') throw new ScepFailure('badRequest', `a ${row.profile} certificate is not renewed over SCEP`)
  const notBefore = new Date(row.not_before).getTime()
  const notAfter = new Date(row.not_after).getTime()
  const now = Date.now()
  if (notAfter <= now) throw new ScepFailure('badRequest', `the certificate ${serial} that signed the RenewalReq has expired`)
  const opens = notAfter - (notAfter - notBefore) * RENEWAL_WINDOW
  if (now < opens) throw new ScepFailure('badRequest', `the certificate ${serial} can be renewed from ${new Date(opens).toISOString()}`)
  if (call.profile && call.profile !== row.profile) throw new ScepFailure('badRequest', `the certificate is a ${row.profile} certificate, not ${call.profile}`)
  return {
    identity: { email: row.email, profile: row.profile, device: row.device_id ? { id: row.device_id } : undefined },
    actor: 'scep:renewal',
    replaces: serial,
  }
}
