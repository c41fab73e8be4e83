import 'reflect-metadata'
import { verify, X509Certificate, type KeyObject } from 'node:crypto'
import { sql } from 'kysely'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import t from 'tap'
import { attribute, signedData, type CmsDigest } from '../../ca/cms.js'
import { children, octets, oid, readOid, readOne, seq, tlv, Tag } from '../../ca/der.js'
import { OID } from '../../ca/oids.js'
import { MessageType, readPkiMessage, sealEnvelope } from '../../ca/scep/index.js'
import { scepOperation } from '../../src/use-cases/scep-operation.js'
import { build } from '../helper.js'
import { csrFor, newRequester, pkiMessage, readCertRep, scepChallenge, scepRaCertificate, type Requester } from '../support/scep-request.js'
import { mutate, prng, replace, type Rng } from '../support/der-mutations.js'

// Fuzzing PKIOperation: 10,000 random, truncated, bit-flipped, spliced and re-signed pkiMessages,
// by POST and GET. Each must get a 4xx or a 200 CertRep signed by kagi's SCEP certificate whose
// pkiStatus is FAILURE, or SUCCESS carrying a certificate a valid seed already obtained (a
// mutation outside the signed part can leave a retry of the same transaction and key, which gets
// the same certificate again). No mutated request may store a certificate.
//
// Four fixed cases come first: inputs the random ones once found to give a 500 (regressions).
// Deterministic per seed (SCEP_FUZZ_SEED=<n> to repeat; keys and nonces are fresh each run, so
// a failure also prints the body it sent and, for a 5xx, the server's stack, from the same body
// passed to scepOperation directly). SCEP_FUZZ_CASES changes the number of cases.

const SEED = Number(process.env.SCEP_FUZZ_SEED ?? 0x5ce9f022) >>> 0
const CASES = Math.min(Math.max(Number(process.env.SCEP_FUZZ_CASES ?? 10_000), 1), 200_000)
/** Re-signed cases reach the envelope, whose RSA key transport costs kagi ~20–30 ms each: keep them a small share. */
const RESIGNED_SHARE = 0.01
/** Fresh challenges for re-signed PKCSReqs with mutated CSRs, so that those reach the enrollment pipeline. */
const FRESH_CHALLENGES = 12

/** Where the first certificate's signatureValue lies in a pkiMessage (ContentInfo → SignedData → certificates [0]). */
function signerSignatureRange(der: Buffer): [number, number] | undefined {
  try {
    const signed = children(readOne(der))[1]!
    const certificates = children(children(signed)[0]!).find((n) => n.tag === 0xa0)
    const signature = children(children(certificates!)[0]!)[2]!
    const at = signature.raw.byteOffset - der.byteOffset
    return [at, at + signature.raw.length]
  } catch {
    return undefined
  }
}

// ---- re-signed messages: kagi gets past the signature, to the attributes, envelope and CSR ----

const printable = (text: string): Buffer => tlv(Tag.printableString, Buffer.from(text, 'latin1'))

/** A pkiMessage signed by `requester` over exactly these SCEP attributes and envelope. */
function signedMessage(requester: Requester, attributes: Buffer[], envelope: Buffer | undefined, digest: CmsDigest = 'sha256'): Buffer {
  return signedData({ content: envelope, attributes, digest, signer: requester, chain: [] })
}

/** Odd but signed attribute values: what readPkiMessage must validate rather than trust. */
function oddAttributes(rng: Rng, messageType: number, transactionId: string): Buffer[] {
  const types = [String(messageType), '19', '17', '20', '21', '22', '3', '0', '-1', '1e3', '19.0', ' 19', '99999999999999999999', '', 'x']
  const stringTag = (): number => rng.pick([Tag.printableString, Tag.utf8String, Tag.ia5String, 0x1e, 0x04, 0x02])
  const ids = [transactionId, '', 'x'.repeat(rng.range(200, 300)), rng.bytes(rng.range(1, 40)).toString('latin1'), `${transactionId}\u0000`]
  const nonce = rng.bytes(rng.pick([0, 1, 7, 8, 16, 64, 65, 200]))
  const attrs = [
    attribute(OID.scepMessageType, tlv(rng.chance(0.8) ? Tag.printableString : stringTag(), Buffer.from(rng.pick(types), 'latin1'))),
    attribute(OID.scepTransactionId, tlv(rng.chance(0.7) ? Tag.printableString : stringTag(), Buffer.from(rng.pick(ids), 'latin1'))),
    attribute(OID.scepSenderNonce, rng.chance(0.8) ? octets(nonce) : printable(nonce.toString('hex'))),
  ]
  if (rng.chance(0.2)) attrs.splice(rng.int(attrs.length), 1)
  if (rng.chance(0.2)) attrs.push(attrs[rng.int(attrs.length)]!)
  return attrs
}

/** The usual SCEP attributes with a transactionID of our choosing. */
function scepAttributes(messageType: number, transactionId: string, nonce: Buffer): Buffer[] {
  return [attribute(OID.scepMessageType, printable(String(messageType))), attribute(OID.scepTransactionId, printable(transactionId)), attribute(OID.scepSenderNonce, octets(nonce))]
}

// ---- the replies ------------------------------------------------------------------------------

const digestNames: Record<string, string> = { [OID.sha1]: 'sha1', [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512' }

/**
 * A CertRep read without the requester's key, with kagi's own DER reader (pkijs takes ~4 ms for
 * a reply with its certificates; a sample goes through pkijs too): messageType, pkiStatus,
 * failInfo, the size of its content (empty on FAILURE), and whether kagi's SCEP certificate signed it.
 */
function readReply(der: Buffer, raKey: KeyObject): { messageType?: string; pkiStatus?: string; failInfo?: string; verified: boolean; contentBytes: number } {
  const [type, explicitContent] = children(readOne(der))
  if (!type || readOid(type) !== OID.signedData || !explicitContent) throw new Error('the reply is not a ContentInfo with SignedData')
  const fields = children(children(explicitContent)[0]!)
  const encapsulated = children(fields[2]!)
  const eContent = encapsulated[1] ? children(encapsulated[1])[0] : undefined
  const signerInfos = children(fields[fields.length - 1]!)
  if (signerInfos.length !== 1) throw new Error(`the reply has ${signerInfos.length} SignerInfos`)
  const signerInfo = children(signerInfos[0]!)
  const signedAttrs = signerInfo.find((n) => n.tag === 0xa0)
  if (!signedAttrs) throw new Error('the reply has no signed attributes')
  const attributes = new Map(
    children(signedAttrs).map((a) => {
      const [attrType, values] = children(a)
      return [readOid(attrType!), children(values!)[0]] as const
    }),
  )
  const text = (attrType: string) => attributes.get(attrType)?.value.toString('latin1')
  const digest = digestNames[readOid(children(signerInfo[2]!)[0]!)]
  const signedBytes = Buffer.concat([Buffer.from([Tag.set]), signedAttrs.raw.subarray(1)])
  const verified = !!digest && verify(digest, signedBytes, raKey, signerInfo[signerInfo.length - 1]!.value)
  return { messageType: text(OID.scepMessageType), pkiStatus: text(OID.scepPkiStatus), failInfo: text(OID.scepFailInfo), verified, contentBytes: eContent?.value.length ?? 0 }
}

/** The reply as pkijs reads it (what readCertRep and most SCEP clients' libraries do). */
function pkijsParses(der: Buffer): void {
  const asn = asn1js.fromBER(new Uint8Array(der))
  if (asn.offset === -1) throw new Error('the reply is not BER')
  const sd = new pkijs.SignedData({ schema: new pkijs.ContentInfo({ schema: asn.result }).content })
  if (sd.signerInfos.length !== 1) throw new Error('pkijs finds no single SignerInfo in the reply')
}

/** One way of sending a body: POST as DER, or GET with the base64 in `message` (encoded, raw, or damaged). */
function request(rng: Rng, body: Buffer): { method: 'GET' | 'POST'; url: string; headers?: Record<string, string>; payload?: Buffer; label: string } {
  const url = '/scep?operation=PKIOperation'
  if (rng.chance(0.8)) {
    const type = rng.chance(0.9) ? 'application/x-pki-message' : rng.pick(['application/octet-stream', 'text/plain', 'application/json'])
    return { method: 'POST', url: rng.chance(0.05) ? `/scep/pkiclient.exe?operation=PKIOperation` : url, headers: { 'content-type': type }, payload: body, label: `POST ${type}` }
  }
  let text = body.toString('base64')
  const style = rng.int(10)
  if (style < 7) text = encodeURIComponent(text)
  else if (style === 7) text = body.toString('base64url')
  else if (style === 8 && text.length > 0) text = replace(Buffer.from(text), rng.int(text.length), 0, Buffer.from(rng.pick(['*', '%25', '%00', '%E2%82%AC', '&message=AAAA', '#', '\\']))).toString()
  return { method: 'GET', url: `${url}&message=${text}`, label: `GET style ${style}` }
}

interface Seed {
  name: string
  der: Buffer
  requester: Requester
  messageType: number
  transactionId: string
  /** What it gets unmutated. */
  expect: 'SUCCESS' | 'FAILURE'
  /** Its signer certificate's signatureValue (see {@link position}). */
  cold?: [number, number]
}

t.test('PKIOperation fuzzing: 4xx or a signed FAILURE, never a 5xx or a stored certificate', async (t) => {
  const started = performance.now()
  const rng = prng(SEED)
  t.comment(`SCEP fuzz seed ${SEED} (SCEP_FUZZ_SEED=${SEED} to repeat), ${CASES} cases`)
  const kagi = await build(t)
  const ra = await scepRaCertificate(kagi)
  const raKey = new X509Certificate(ra).publicKey
  const countCertificates = async () => (await sql<{ n: number }>`select count(*)::int as n from certificate`.execute(kagi.database.db)).rows[0]!.n
  const before = await countCertificates()

  // Seeds: two valid PKCSReqs (AES-256 + SHA-256 for a user; 3DES + SHA-1 for a device), a
  // GetCertInitial for the first, and a RenewalReq signed by the first's certificate (refused: not
  // yet in its renewal window, but it reaches the database).
  const alice = await newRequester(2048, 'fuzz-alice')
  const device = await newRequester(2048, 'fuzz-device')
  const aliceCsr = await csrFor(alice.cryptoKeys, 'CN=fuzz', { challenge: await scepChallenge(kagi, { user: 'fuzz@example.com', profile: 'user' }) })
  const deviceCode = await scepChallenge(kagi, { user: 'fuzz@example.com', device: { name: 'Fuzz Mac', platform: 'macos', hostname: 'fuzz-mac.example.com' }, profile: 'device' })
  const deviceCsr = await csrFor(device.cryptoKeys, 'CN=fuzz-mac', { challenge: deviceCode })
  const pkcsReq = pkiMessage(alice, { messageType: MessageType.PKCSReq, recipient: ra, content: aliceCsr })
  const deviceReq = pkiMessage(device, { messageType: MessageType.PKCSReq, recipient: ra, content: deviceCsr, cipherOid: OID.desEde3Cbc, digest: 'sha1' })
  const seeds: Seed[] = [
    { name: 'PKCSReq', der: pkcsReq.der, requester: alice, messageType: MessageType.PKCSReq, transactionId: pkcsReq.transactionId, expect: 'SUCCESS' },
    { name: 'PKCSReq-3DES-SHA1', der: deviceReq.der, requester: device, messageType: MessageType.PKCSReq, transactionId: deviceReq.transactionId, expect: 'SUCCESS' },
  ]
  const legitSerials = new Set<string>()
  const sendSeed = async (seed: Seed) => {
    const res = await kagi.app.inject({ method: 'POST', url: '/scep?operation=PKIOperation', headers: { 'content-type': 'application/x-pki-message' }, payload: seed.der })
    t.equal(res.statusCode, 200, `${seed.name}: 200`)
    const rep = await readCertRep(res.rawPayload, seed.requester)
    t.equal(rep.pkiStatus, seed.expect === 'SUCCESS' ? '0' : '2', `${seed.name} unmutated: ${seed.expect} (${rep.failInfo ?? ''})`)
    if (rep.certificate) legitSerials.add(new X509Certificate(rep.certificate).serialNumber)
    return rep
  }
  const issued = await sendSeed(seeds[0]!)
  await sendSeed(seeds[1]!)
  const poll = pkiMessage(alice, { messageType: MessageType.CertPoll, recipient: ra, content: Buffer.from([0x30, 0]), transactionId: pkcsReq.transactionId })
  seeds.push({ name: 'GetCertInitial', der: poll.der, requester: alice, messageType: MessageType.CertPoll, transactionId: poll.transactionId, expect: 'SUCCESS' })
  const renewer: Requester = { privateKey: alice.privateKey, certificate: issued.certificate! }
  const renewal = pkiMessage(renewer, { messageType: MessageType.RenewalReq, recipient: ra, content: aliceCsr })
  seeds.push({ name: 'RenewalReq', der: renewal.der, requester: renewer, messageType: MessageType.RenewalReq, transactionId: renewal.transactionId, expect: 'FAILURE' })
  await sendSeed(seeds[2]!)
  await sendSeed(seeds[3]!)
  let legitCount = await countCertificates()
  t.equal(legitCount, before + 2, 'the two valid PKCSReqs stored two certificates')
  t.equal(legitSerials.size, 2)

  const fresh: string[] = []
  for (let i = 0; i < FRESH_CHALLENGES; i++) fresh.push(await scepChallenge(kagi, { user: `fuzz${i % 4}@example.com`, profile: 'user' }))
  const envelopeFor = (content: Buffer) => sealEnvelope(content, ra, rng.pick([OID.aes128Cbc, OID.aes256Cbc, OID.desEde3Cbc, OID.desCbc]), true)

  /** One case: what is sent, and what it is made from. */
  const makeCase = async (): Promise<{ body: Buffer; label: string; seed?: Seed }> => {
    const roll = rng.next()
    if (roll < 0.06) return { body: rng.bytes(rng.int(4096)), label: 'random' }
    if (roll < 0.08) {
      // Random bytes behind a plausible ContentInfo { signedData } prefix, so the parser goes deeper.
      const tail = rng.bytes(rng.range(0, 2048))
      const inner = Buffer.concat([Buffer.from('06092a864886f70d010702', 'hex'), tlv(0xa0, tail)])
      return { body: tlv(0x30, inner), label: 'random-under-signedData' }
    }
    const seed = rng.pick(seeds)
    if (roll < 0.08 + RESIGNED_SHARE) {
      const nonce = rng.bytes(16)
      const ownId = `fuzz-${rng.int(1e9)}`
      switch (rng.int(4)) {
        case 0: // signed, odd attributes around the seed's real envelope
          return { body: signedMessage(seed.requester, oddAttributes(rng, seed.messageType, seed.transactionId), rng.chance(0.9) ? readEnvelope(seed.der) : undefined), label: `resign:attributes ${seed.name}`, seed }
        case 1: {
          // signed, a mutated envelope
          const envelope = mutate(rng, readEnvelope(seed.der))
          return { body: signedMessage(seed.requester, scepAttributes(seed.messageType, ownId, nonce), envelope.bytes, rng.pick(['sha1', 'sha256', 'sha512'])), label: `resign:envelope ${envelope.label} ${seed.name}`, seed }
        }
        case 2: {
          // signed and enveloped, a mutated CSR whose challenge is spent (or none)
          const csr = mutate(rng, seed.messageType === MessageType.PKCSReq && seed.requester === device ? deviceCsr : aliceCsr)
          return { body: signedMessage(seed.requester, scepAttributes(seed.messageType, ownId, nonce), envelopeFor(csr.bytes)), label: `resign:csr ${csr.label} ${seed.name}`, seed }
        }
        default: {
          // signed and enveloped, a mutated CSR with a fresh challenge: into the enrollment pipeline
          const who = seed.requester === device ? device : alice
          const code = fresh[rng.int(fresh.length)]!
          const csr = mutate(rng, await csrFor(who.cryptoKeys, `CN=fuzz-${rng.int(100)}`, { challenge: code, emails: ['mallory@evil.example'] }))
          return { body: signedMessage(who, scepAttributes(MessageType.PKCSReq, ownId, nonce), envelopeFor(csr.bytes)), label: `resign:fresh-csr ${csr.label}`, seed: { ...seed, requester: who } }
        }
      }
    }
    const m = mutate(rng, seed.der, (seed.cold ??= signerSignatureRange(seed.der)))
    return { body: m.bytes, label: `${m.label} ${seed.name}`, seed }
  }

  const statuses = new Map<string, number>()
  const tally = (key: string) => statuses.set(key, (statuses.get(key) ?? 0) + 1)
  const failures: { case: number | string; label: string; how: string; problem: string; body: string }[] = []
  const problem = (i: number | string, label: string, how: string, text: string, body: Buffer) => {
    if (failures.length < 20) failures.push({ case: i, label, how, problem: text, body: body.length <= 8192 ? body.toString('hex') : `${body.length} bytes` })
  }
  let decrypted = 0
  /** Each 5xx's error and where it was thrown, counted. */
  const causes = new Map<string, number>()
  let replies = 0

  /** Sends one case and records what is wrong with the answer, if anything. */
  const check = async (i: number | string, body: Buffer, label: string, seed: Seed | undefined, how: ReturnType<typeof request>): Promise<void> => {
    let res
    try {
      res = await kagi.app.inject({ method: how.method, url: how.url, headers: how.headers, payload: how.payload })
    } catch (error) {
      return problem(i, label, how.label, `inject threw: ${(error as Error).stack}`, body)
    }
    if (res.statusCode >= 500) {
      tally(String(res.statusCode))
      // The stack the server logged: the same body straight into the use case.
      const stack = await scepOperation(kagi.services, body, {}).then(() => '(no error when called directly)', (error: Error) => error.stack ?? String(error))
      const cause = stack.split('\n').slice(0, 2).map((line) => line.trim()).join(' ')
      causes.set(cause, (causes.get(cause) ?? 0) + 1)
      return problem(i, label, how.label, `${res.statusCode} ${res.body.slice(0, 300)}\n${stack}`, body)
    }
    if (res.statusCode !== 200) {
      tally(String(res.statusCode))
      if (res.statusCode < 400) problem(i, label, how.label, `status ${res.statusCode}`, body)
      if (/at .*\.(ts|js):\d+/.test(res.body)) problem(i, label, how.label, `stack trace in the answer: ${res.body.slice(0, 500)}`, body)
      return
    }
    try {
      if (res.headers['content-type'] !== 'application/x-pki-message') throw new Error(`content-type ${res.headers['content-type']}`)
      const reply = readReply(res.rawPayload, raKey)
      if (replies++ % 50 === 0) pkijsParses(res.rawPayload)
      if (reply.messageType !== '3') throw new Error(`messageType ${reply.messageType}`)
      if (!reply.verified) throw new Error('the CertRep signature does not verify with the SCEP certificate')
      tally(`200 ${reply.pkiStatus === '2' ? `FAILURE/${reply.failInfo}` : reply.pkiStatus === '0' ? 'SUCCESS' : reply.pkiStatus}`)
      if (reply.pkiStatus === '2') {
        if (reply.contentBytes > 0) throw new Error(`a FAILURE with ${reply.contentBytes} bytes of content`)
        if (!['0', '1', '2', '3', '4'].includes(reply.failInfo ?? '')) throw new Error(`failInfo ${reply.failInfo}`)
        return
      }
      if (reply.pkiStatus !== '0') throw new Error(`pkiStatus ${reply.pkiStatus}`)
      // A mutation outside the signed part can leave the same transaction and key, which gets the certificate issued before: nothing new.
      if ((await countCertificates()) !== legitCount) throw new Error('SUCCESS, and a certificate was stored')
      if (decrypted >= 10 || seeds.some((s) => s.der.equals(body))) return
      // The first few: decrypted (RSA in JavaScript, ~30 ms), to see it is one the seeds obtained. The reply is encrypted
      // to the signer certificate as kagi read it, which a mutation may have changed around the same key.
      decrypted++
      const signer = await readPkiMessage(body).then((m) => m.signer, () => seed?.requester.certificate)
      const rep = seed && signer ? await readCertRep(res.rawPayload, { privateKey: seed.requester.privateKey, certificate: signer }).catch(() => undefined) : undefined
      const serial = rep?.certificate ? new X509Certificate(rep.certificate).serialNumber : undefined
      if (!(serial && legitSerials.has(serial))) throw new Error(`SUCCESS for a mutated request with certificate ${serial ?? '(unreadable)'}`)
    } catch (error) {
      problem(i, label, how.label, `bad 200: ${(error as Error).message}`, body)
    }
  }

  // Fixed cases first: inputs the random ones found once (regressions), sent by POST. The last
  // one carries an unspent challenge: it must not store a certificate or spend the challenge.
  const post = (body: Buffer) => ({ method: 'POST' as const, url: '/scep?operation=PKIOperation', headers: { 'content-type': 'application/x-pki-message' }, payload: body, label: 'POST' })
  const nonce = Buffer.alloc(16, 7)
  const emptyValues = signedMessage(alice, [seq(oid(OID.scepMessageType), tlv(Tag.set)), ...scepAttributes(MessageType.CertPoll, 'fuzz-empty', nonce).slice(1)], readEnvelope(poll.der))
  const nulId = signedMessage(alice, scepAttributes(MessageType.CertPoll, 'fuzz\u0000', nonce), readEnvelope(poll.der))
  const freshCsr = await csrFor(alice.cryptoKeys, 'CN=fuzz', { challenge: await scepChallenge(kagi, { user: 'fuzz@example.com', profile: 'user' }) })
  const freshReq = pkiMessage(alice, { messageType: MessageType.PKCSReq, recipient: ra, content: freshCsr, transactionId: 'fuzz-bad-time' })
  const regressions: [string, Buffer][] = [
    ['a messageType attribute with an empty SET of values', emptyValues],
    ['a NUL in the transactionID', nulId],
    ['a GetCertInitial whose signer certificate has a malformed notAfter', withBadNotAfter(poll.der, alice.certificate)],
    ['a PKCSReq with an unspent challenge whose signer certificate has a malformed notAfter', withBadNotAfter(freshReq.der, alice.certificate)],
  ]
  for (const [name, body] of regressions) await check(`fixed: ${name}`, body, name, seeds[0], post(body))
  const countSpent = async () => (await sql<{ n: number }>`select count(*)::int as n from scep_challenge where used_at is not null`.execute(kagi.database.db)).rows[0]!.n
  const stored = (await countCertificates()) - legitCount
  t.equal(stored, 0, 'the fixed cases stored no certificate')
  t.equal(await countSpent(), 2, 'the fixed cases spent no challenge')
  // The random cases are measured against what is stored now (so that one failure above does not mask theirs).
  legitCount += stored
  const spentBefore = await countSpent()

  const memoryBefore = process.memoryUsage()
  for (let i = 0; i < CASES; i++) {
    const { body, label, seed } = await makeCase()
    await check(i, body, label, seed, request(rng, body))
  }

  const memoryAfter = process.memoryUsage()
  const seconds = (performance.now() - started) / 1000
  t.comment(`answers: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`)
  t.comment(`${CASES} cases in ${seconds.toFixed(1)} s; heap ${(memoryBefore.heapUsed / 2 ** 20).toFixed(0)} → ${(memoryAfter.heapUsed / 2 ** 20).toFixed(0)} MB, rss ${(memoryAfter.rss / 2 ** 20).toFixed(0)} MB`)
  if (causes.size > 0) t.comment(`5xx causes: ${JSON.stringify(Object.fromEntries(causes), null, 1)}`)
  t.same(failures, [], `every answer a 4xx or a signed FAILURE (seed ${SEED})`)
  t.equal(await countCertificates(), legitCount, 'no certificate stored for a mutated request')
  t.equal(await countSpent(), spentBefore, 'no challenge spent by a mutated request')
  t.ok(memoryAfter.heapUsed - memoryBefore.heapUsed < 256 * 2 ** 20, 'the heap grew by less than 256 MB')
  t.ok(memoryAfter.rss < 2 * 2 ** 30, 'rss stays under 2 GB')
  // Still serving: the first seed once more gets its certificate.
  const again = await kagi.app.inject({ method: 'POST', url: '/scep?operation=PKIOperation', headers: { 'content-type': 'application/x-pki-message' }, payload: seeds[0]!.der })
  t.equal((await readCertRep(again.rawPayload, alice)).pkiStatus, '0', 'the valid PKCSReq still gets its certificate')
})

/**
 * `der` with one character of `certificate`'s notAfter (a UTCTime) replaced by "!": the signer
 * certificate lies outside what the SignedData signature covers, and nothing checks its own.
 */
function withBadNotAfter(der: Buffer, certificate: Buffer): Buffer {
  const at = der.indexOf(certificate)
  const notBefore = certificate.indexOf(Buffer.from([Tag.utcTime, 13]))
  const notAfter = certificate.indexOf(Buffer.from([Tag.utcTime, 13]), notBefore + 2)
  if (at < 0 || notBefore < 0 || notAfter < 0) throw new Error('no UTCTime notAfter in the signer certificate')
  const out = Buffer.from(der)
  out[at + notAfter + 2 + 6] = 0x21
  return out
}

/** The pkcsPKIEnvelope (eContent) of one of our own pkiMessages. */
function readEnvelope(der: Buffer): Buffer {
  const sd = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(der)).content })
  return Buffer.from(sd.encapContentInfo.eContent!.getValue())
}
