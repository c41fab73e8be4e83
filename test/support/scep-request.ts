/**
 * A SCEP client in TypeScript for kagi's own tests (hostile inputs, fuzzing,
 * renewal): builds PKCSReq / RenewalReq / GetCertInitial pkiMessages (RFC 8894
 * §3.2) and reads CertReps. The interoperability tests use real clients
 * (test/support/scep-clients.ts); this one exists to send what they would not.
 */
import 'reflect-metadata'
import { createHash, generateKeyPairSync, randomBytes, verify, webcrypto, X509Certificate, type KeyObject } from 'node:crypto'
import * as x509 from '@peculiar/x509'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import { attribute, signedData, type CmsDigest } from '../../ca/cms.js'
import { octets, tlv, Tag } from '../../ca/der.js'
import { OID } from '../../ca/oids.js'
import { openEnvelope, sealEnvelope } from '../../ca/scep/index.js'
import type { TestApp } from '../helper.js'

x509.cryptoProvider.set(webcrypto as Crypto)

export interface Requester {
  privateKey: KeyObject
  /** DER self-signed certificate (PKCSReq) or the certificate being renewed. */
  certificate: Buffer
}

/** An RSA key and a self-signed certificate for it (RFC 8894 §2.3). */
export async function newRequester(bits: number | 'ec' = 2048, cn = 'scep-test'): Promise<Requester & { cryptoKeys: CryptoKeyPair }> {
  const { privateKey } = bits === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: bits })
  const cryptoKeys = await keysOf(privateKey)
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${cn}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys: cryptoKeys,
    signingAlgorithm: signingAlgorithm(privateKey),
  })
  return { privateKey, certificate: Buffer.from(cert.rawData), cryptoKeys }
}

const signingAlgorithm = (key: KeyObject) => (key.asymmetricKeyType === 'ec' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' })

export async function keysOf(privateKey: KeyObject): Promise<CryptoKeyPair> {
  const alg = privateKey.asymmetricKeyType === 'ec' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' })
  const spki = (await import('node:crypto')).createPublicKey(privateKey).export({ type: 'spki', format: 'der' })
  return {
    privateKey: await webcrypto.subtle.importKey('pkcs8', pkcs8, alg, true, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', spki, alg, true, ['verify']),
  }
}

/** A DER CSR for the key, with a subject and optional challengePassword and SANs (what an MDM's device sends). */
export async function csrFor(keys: CryptoKeyPair, subject: string, options: { challenge?: string; emails?: readonly string[]; dnsNames?: readonly string[] } = {}): Promise<Buffer> {
  const extensions: x509.Extension[] = []
  const names = [...(options.emails ?? []).map((value) => ({ type: 'email' as const, value })), ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value }))]
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names))
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject,
    keys,
    signingAlgorithm: keys.privateKey.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    extensions,
    attributes: options.challenge ? [new x509.ChallengePasswordAttribute(options.challenge)] : [],
  })
  return Buffer.from(csr.rawData)
}

const printable = (text: string): Buffer => tlv(Tag.printableString, Buffer.from(text, 'latin1'))

export interface MessageOptions {
  messageType: number
  /** Encrypted to this certificate (kagi's RA from GetCACert). */
  recipient: Buffer
  content: Buffer
  transactionId?: string
  cipherOid?: string
  digest?: CmsDigest
}

/** A signed, enveloped pkiMessage from `requester`. */
export function pkiMessage(requester: Requester, options: MessageOptions): { der: Buffer; transactionId: string; senderNonce: Buffer } {
  const transactionId = options.transactionId ?? createHash('sha256').update(requester.certificate).digest('hex')
  const senderNonce = randomBytes(16)
  const envelope = sealEnvelope(options.content, options.recipient, options.cipherOid ?? OID.aes256Cbc, true)
  const der = signedData({
    content: envelope,
    attributes: [
      attribute(OID.scepMessageType, printable(String(options.messageType))),
      attribute(OID.scepTransactionId, printable(transactionId)),
      attribute(OID.scepSenderNonce, octets(senderNonce)),
    ],
    digest: options.digest ?? 'sha256',
    signer: requester,
    chain: [],
  })
  return { der, transactionId, senderNonce }
}

/** What a CertRep says: its signed attributes and, on SUCCESS, the issued certificate (decrypted with the requester's key). */
export interface CertRepView {
  messageType: string
  pkiStatus: string
  failInfo?: string
  transactionId?: string
  recipientNonce?: Buffer
  certificate?: Buffer
  signatureAlgorithm: string
  verified: boolean
}

function signerCertificate(sd: pkijs.SignedData, signer: pkijs.SignerInfo): X509Certificate {
  const sid = signer.sid as pkijs.IssuerAndSerialNumber
  const cert = sd.certificates!.find((c) => c instanceof pkijs.Certificate && c.serialNumber.isEqual(sid.serialNumber) && c.issuer.isEqual(sid.issuer)) as pkijs.Certificate
  return new X509Certificate(Buffer.from(cert.toSchema().toBER(false)))
}

export async function readCertRep(der: Buffer, requester: Requester): Promise<CertRepView> {
  const contentInfo = pkijs.ContentInfo.fromBER(new Uint8Array(der))
  const sd = new pkijs.SignedData({ schema: contentInfo.content })
  const signer = sd.signerInfos[0]!
  const attr = (type: string) => signer.signedAttrs!.attributes.find((a) => a.type === type)?.values[0]
  const text = (type: string) => (attr(type) as asn1js.PrintableString | undefined)?.valueBlock.value
  const eContent = sd.encapContentInfo.eContent
  const content = eContent && eContent.getValue().byteLength > 0 ? eContent : undefined
  // pkijs refuses to verify a SignedData without content (FAILURE, PENDING): check those signatures directly (RFC 5652 §5.4).
  const verified = content
    ? await sd.verify({ signer: 0, checkChain: false })
    : verify(
        'sha256',
        Buffer.concat([Buffer.from([0x31]), Buffer.from(signer.signedAttrs!.encodedValue).subarray(1)]),
        signerCertificate(sd, signer).publicKey,
        Buffer.from(signer.signature.valueBlock.valueHexView),
      )
  const view: CertRepView = {
    messageType: text(OID.scepMessageType)!,
    pkiStatus: text(OID.scepPkiStatus)!,
    failInfo: text(OID.scepFailInfo),
    transactionId: text(OID.scepTransactionId),
    recipientNonce: attr(OID.scepRecipientNonce) ? Buffer.from((attr(OID.scepRecipientNonce) as asn1js.OctetString).getValue()) : undefined,
    signatureAlgorithm: signer.signatureAlgorithm.algorithmId,
    verified,
  }
  if (content) {
    const inner = openEnvelope(Buffer.from(content.getValue()), [requester], true).content
    const degenerate = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(inner)).content })
    view.certificate = Buffer.from((degenerate.certificates![0] as pkijs.Certificate).toSchema().toBER(false))
  }
  return view
}

/** kagi's SCEP certificate: the first of GetCACert (requests are encrypted to it). */
export async function scepRaCertificate(kagi: Pick<TestApp, 'app'>, path = '/scep'): Promise<Buffer> {
  const res = await kagi.app.inject({ url: `${path}?operation=GetCACert` })
  const sd = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(res.rawPayload)).content })
  return Buffer.from((sd.certificates![0] as pkijs.Certificate).toSchema().toBER(false))
}

/** A one-time challenge from POST /api/v1/scep/challenges with the mdm token; throws unless 201. */
export async function scepChallenge(kagi: Pick<TestApp, 'app' | 'as'>, body: object): Promise<string> {
  const res = await kagi.app.inject({ method: 'POST', url: '/api/v1/scep/challenges', headers: kagi.as.mdm, payload: body })
  if (res.statusCode !== 201) throw new Error(`challenge: ${res.statusCode} ${res.body}`)
  return res.json().challenge
}
