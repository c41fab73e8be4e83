import 'reflect-metadata'
import { X509Certificate } from 'node:crypto'
import { sql } from 'kysely'
import t from 'tap'
import * as pkijs from 'pkijs'
import { attribute, signedData } from '../../ca/cms.js'
import { octets, tlv, Tag } from '../../ca/der.js'
import { OID } from '../../ca/oids.js'
import { MessageType } from '../../ca/scep/index.js'
import { build, type TestApp } from '../helper.js'
import { csrFor, newRequester, pkiMessage, readCertRep, scepChallenge, scepRaCertificate, type Requester } from '../support/scep-request.js'

const FAIL = { badAlg: '0', badMessageCheck: '1', badRequest: '2', badTime: '3', badCertId: '4' }

/** Sends a PKCSReq by POST (or GET) and reads the CertRep. */
async function send(kagi: TestApp, requester: Requester, der: Buffer, options: { get?: boolean; query?: string } = {}) {
  const url = `/scep?operation=PKIOperation${options.query ?? ''}`
  const res = options.get
    ? await kagi.app.inject({ url: `${url}&message=${encodeURIComponent(der.toString('base64'))}` })
    : await kagi.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-pki-message' }, payload: der })
  if (res.statusCode !== 200) throw new Error(`PKIOperation: ${res.statusCode} ${res.body}`)
  return readCertRep(res.rawPayload, requester)
}

async function enrollWith(kagi: TestApp, code: string, ra: Buffer, options: { subject?: string; bits?: number | 'ec'; query?: string; get?: boolean; cipherOid?: string } = {}) {
  const requester = await newRequester(options.bits)
  const csr = await csrFor(requester.cryptoKeys, options.subject ?? 'CN=evil.example.net', { challenge: code, emails: ['mallory@evil.example'] })
  const message = pkiMessage(requester, { messageType: MessageType.PKCSReq, recipient: ra, content: csr, cipherOid: options.cipherOid })
  return { requester, message, rep: await send(kagi, requester, message.der, options) }
}

t.test('SCEP', async (t) => {
  const kagi = await build(t)
  const ra = await scepRaCertificate(kagi)

  t.test('GetCACaps lists what is implemented', async (t) => {
    const res = await kagi.app.inject({ url: '/scep?operation=GetCACaps' })
    t.equal(res.statusCode, 200)
    for (const cap of ['POSTPKIOperation', 'SHA-256', 'SHA-512', 'SHA-384', 'AES', 'DES3', 'SHA-1', 'SCEPStandard', 'Renewal']) t.ok(res.body.split('\n').includes(cap), cap)
    t.notOk(/\bDES\b(?!3)/.test(res.body), 'single DES is never advertised')
    t.equal((await kagi.app.inject({ url: '/scep/pkiclient.exe?operation=GetCACaps' })).body, res.body, 'pkiclient.exe alias')
  })

  t.test('GetCACert: the SCEP certificate first, then issuing and root', async (t) => {
    const res = await kagi.app.inject({ url: '/scep?operation=GetCACert&message=0' })
    t.equal(res.headers['content-type'], 'application/x-x509-ca-ra-cert')
    const sd = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(res.rawPayload)).content })
    const certs = sd.certificates!.map((c) => new X509Certificate(Buffer.from((c as pkijs.Certificate).toSchema().toBER(false))))
    t.equal(certs.length, 3)
    t.equal(certs[0]!.publicKey.asymmetricKeyType, 'rsa')
    t.match(certs[0]!.toLegacyObject().ext_key_usage ?? [], [])
    t.ok(certs[0]!.checkIssued(certs[1]!), 'issued by the issuing CA')
    t.equal(certs[1]!.raw.toString('base64'), kagi.services.chainDer[0]!.toString('base64'))
    t.equal(certs[2]!.raw.toString('base64'), kagi.services.chainDer[1]!.toString('base64'))
  })

  t.test('challenges: validated, stored hashed, audited without the challenge', async (t) => {
    const ok = await kagi.app.inject({ method: 'POST', url: '/api/v1/scep/challenges', headers: kagi.as.mdm, payload: { user: 'alice@example.com', profile: 'user' } })
    t.equal(ok.statusCode, 201)
    const { challenge: code, expiresAt } = ok.json()
    t.match(code, /^[0-9A-F]{32}$/)
    t.ok(Math.abs(new Date(expiresAt).getTime() - Date.now() - 3_600_000) < 60_000, '60 minutes')
    const stored = await sql<{ n: number }>`select count(*)::int as n from scep_challenge where encode(challenge_hash, 'hex') like ${`%${code.toLowerCase()}%`}`.execute(kagi.database.db)
    t.equal(stored.rows[0]!.n, 0, 'not stored in the clear')
    const audit = await sql<{ details: unknown }>`select details from audit_event where action = 'scep.challenge-created'`.execute(kagi.database.db)
    t.ok(audit.rows.length >= 1)
    t.notOk(JSON.stringify(audit.rows).includes(code), 'not in the audit log')
    const refused = [
      [{ user: 'alice@example.com', profile: 'device' }, 400],
      [{ user: 'not an email', profile: 'user' }, 400],
      [{ user: 'alice@example.com', profile: 'ocsp-signer' }, 400],
      [{ user: 'alice@example.com', profile: 'device', device: { id: '00000000-0000-4000-8000-000000000000' } }, 404],
    ] as const
    for (const [payload, status] of refused) {
      const res = await kagi.app.inject({ method: 'POST', url: '/api/v1/scep/challenges', headers: kagi.as.mdm, payload })
      t.equal(res.statusCode, status, JSON.stringify(payload))
    }
    t.equal((await kagi.app.inject({ method: 'POST', url: '/api/v1/scep/challenges', payload: { user: 'a@example.com', profile: 'user' } })).statusCode, 401)
  })

  t.test('PKCSReq: the certificate carries the record, not the CSR; the challenge works once', async (t) => {
    const code = await scepChallenge(kagi, { user: 'alice@example.com', device: { name: 'Alice Mac', platform: 'macos', hostname: 'alice-mac.example.com' }, profile: 'device' })
    const { requester, message, rep } = await enrollWith(kagi, code, ra)
    t.equal(rep.pkiStatus, '0', `SUCCESS (${rep.failInfo})`)
    t.equal(rep.messageType, '3')
    t.ok(rep.verified, 'signed by the SCEP certificate')
    t.equal(rep.signatureAlgorithm, OID.rsaEncryption, 'SignerInfo signatureAlgorithm rsaEncryption (strongSwan)')
    t.equal(rep.transactionId, message.transactionId)
    t.same(rep.recipientNonce, message.senderNonce)
    const cert = new X509Certificate(rep.certificate!)
    t.match(cert.subject, /CN=alice-mac\.example\.com/)
    t.notMatch(cert.subject + cert.subjectAltName, /evil/)
    t.match(cert.subjectAltName, /DNS:alice-mac\.example\.com/)
    t.ok(cert.verify(new X509Certificate(kagi.services.chainDer[0]!).publicKey), 'issued by the issuing CA')

    const again = await send(kagi, requester, message.der)
    t.equal(again.pkiStatus, '0', 'the same request again (a lost reply) gets the same certificate')
    t.equal(new X509Certificate(again.certificate!).serialNumber, cert.serialNumber)
    const poll = pkiMessage(requester, { messageType: MessageType.CertPoll, recipient: ra, content: Buffer.from([0x30, 0]), transactionId: message.transactionId })
    const polled = await send(kagi, requester, poll.der)
    t.equal(polled.pkiStatus, '0', 'GetCertInitial returns it')
    t.equal(new X509Certificate(polled.certificate!).serialNumber, cert.serialNumber)

    const replay = await enrollWith(kagi, code, ra)
    t.equal(replay.rep.pkiStatus, '2', 'a spent challenge with another key fails')
    t.equal(replay.rep.failInfo, FAIL.badRequest)
    const rows = await sql<{ used_at: Date | null; serial: string | null }>`select used_at, serial from scep_challenge where serial is not null`.execute(kagi.database.db)
    t.equal(rows.rows.length, 1)
    t.equal(rows.rows[0]!.serial, cert.serialNumber.toLowerCase())
  })

  t.test('PKIOperation by GET, with 3DES', async (t) => {
    const code = await scepChallenge(kagi, { user: 'bob@example.com', profile: 'user' })
    const { rep } = await enrollWith(kagi, code, ra, { get: true, cipherOid: OID.desEde3Cbc })
    t.equal(rep.pkiStatus, '0', `SUCCESS (${rep.failInfo})`)
    const cert = new X509Certificate(rep.certificate!)
    t.match(cert.subject, /CN=bob@example\.com/)
    t.match(cert.subjectAltName, /email:bob@example\.com/)
  })

  t.test('refusals write nothing', async (t) => {
    const count = async () => (await sql<{ n: number }>`select count(*)::int as n from certificate`.execute(kagi.database.db)).rows[0]!.n
    const before = await count()
    const cases: [string, () => Promise<{ pkiStatus: string; failInfo?: string }>, string][] = [
      ['unknown challenge', async () => (await enrollWith(kagi, 'F'.repeat(32), ra)).rep, FAIL.badRequest],
      ['no challenge', async () => (await enrollWith(kagi, '', ra)).rep, FAIL.badRequest],
      [
        'expired challenge',
        async () => {
          const code = await scepChallenge(kagi, { user: 'carol@example.com', profile: 'user' })
          await sql`update scep_challenge set expires_at = now() - interval '1 second' where used_at is null`.execute(kagi.database.db)
          return (await enrollWith(kagi, code, ra)).rep
        },
        FAIL.badRequest,
      ],
      ['a user challenge on the device profile URL', async () => (await enrollWith(kagi, await scepChallenge(kagi, { user: 'dave@example.com', profile: 'user' }), ra, { query: '&profile=device' })).rep, FAIL.badRequest],
      ['a 1024-bit key', async () => (await enrollWith(kagi, await scepChallenge(kagi, { user: 'erin@example.com', profile: 'user' }), ra, { bits: 1024 })).rep, FAIL.badAlg],
      [
        'encrypted to another recipient',
        async () => {
          const stranger = await newRequester()
          const requester = await newRequester()
          const csr = await csrFor(requester.cryptoKeys, 'CN=x', { challenge: await scepChallenge(kagi, { user: 'frank@example.com', profile: 'user' }) })
          return send(kagi, requester, pkiMessage(requester, { messageType: MessageType.PKCSReq, recipient: stranger.certificate, content: csr }).der)
        },
        FAIL.badMessageCheck,
      ],
      [
        'signed with an EC key, which no reply can be encrypted to',
        async () => {
          const requester = await newRequester('ec')
          const csr = await csrFor(requester.cryptoKeys, 'CN=x', { challenge: await scepChallenge(kagi, { user: 'ivan@example.com', profile: 'user' }) })
          return send(kagi, requester, pkiMessage(requester, { messageType: MessageType.PKCSReq, recipient: ra, content: csr }).der)
        },
        FAIL.badAlg,
      ],
      [
        'GetCRL (unsupported type)',
        async () => {
          const requester = await newRequester()
          return send(kagi, requester, pkiMessage(requester, { messageType: MessageType.GetCRL, recipient: ra, content: Buffer.from([0x30, 0]) }).der)
        },
        FAIL.badRequest,
      ],
      [
        'GetCertInitial for nothing issued',
        async () => {
          const requester = await newRequester()
          return send(kagi, requester, pkiMessage(requester, { messageType: MessageType.CertPoll, recipient: ra, content: Buffer.from([0x30, 0]) }).der)
        },
        FAIL.badCertId,
      ],
      [
        'single DES without KAGI_SCEP_ALLOW_DES',
        async () => (await enrollWith(kagi, await scepChallenge(kagi, { user: 'gina@example.com', profile: 'user' }), ra, { cipherOid: OID.desCbc })).rep,
        FAIL.badAlg,
      ],
      [
        'a bad signature',
        async () => {
          const requester = await newRequester()
          const csr = await csrFor(requester.cryptoKeys, 'CN=x', { challenge: await scepChallenge(kagi, { user: 'hank@example.com', profile: 'user' }) })
          const der = pkiMessage(requester, { messageType: MessageType.PKCSReq, recipient: ra, content: csr }).der
          der[der.length - 5]! ^= 0x01 // inside the signature value
          return send(kagi, requester, der)
        },
        FAIL.badMessageCheck,
      ],
    ]
    for (const [name, run, failInfo] of cases) {
      const rep = await run()
      t.equal(rep.pkiStatus, '2', `${name}: FAILURE`)
      t.equal(rep.failInfo, failInfo, `${name}: failInfo`)
    }
    t.equal(await count(), before, 'no certificate stored')
    const unspent = await sql<{ n: number }>`select count(*)::int as n from scep_challenge where used_at is not null and serial is null`.execute(kagi.database.db)
    t.equal(unspent.rows[0]!.n, 0)
  })

  t.test('bodies that are no pkiMessage get a 400, never a 5xx', async (t) => {
    for (const payload of [Buffer.alloc(0), Buffer.from('hello'), Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])]) {
      const res = await kagi.app.inject({ method: 'POST', url: '/scep?operation=PKIOperation', headers: { 'content-type': 'application/octet-stream' }, payload })
      t.equal(res.statusCode, 400, payload.toString('hex'))
      t.notMatch(res.body, /at .*\.ts:\d+/, 'no stack trace')
    }
    t.equal((await kagi.app.inject({ url: '/scep?operation=PKIOperation&message=%%%' })).statusCode, 400)
    t.equal((await kagi.app.inject({ url: '/scep?operation=GetNextCACert' })).statusCode, 400)
    t.equal((await kagi.app.inject({ url: '/scep' })).statusCode, 400)
    // Signed attributes without messageType: nothing to answer with.
    const requester = await newRequester()
    const bare = signedData({ content: Buffer.from('x'), attributes: [attribute(OID.scepTransactionId, tlv(Tag.printableString, Buffer.from('1')))], digest: 'sha256', signer: requester, chain: [] })
    t.equal((await kagi.app.inject({ method: 'POST', url: '/scep?operation=PKIOperation', payload: bare, headers: { 'content-type': 'application/x-pki-message' } })).statusCode, 400)
    void octets
  })
})

t.test('unused challenges are pruned a day after they expire', async (t) => {
  const kagi = await build(t)
  const body = { user: 'alice@example.com', profile: 'user' }
  await scepChallenge(kagi, body)
  await sql`update scep_challenge set expires_at = now() - interval '2 days'`.execute(kagi.database.db)
  await scepChallenge(kagi, body)
  const rows = await sql<{ n: number }>`select count(*)::int as n from scep_challenge`.execute(kagi.database.db)
  t.equal(rows.rows[0]!.n, 1, 'the long-expired one is gone')
})

t.test('a device challenge is refused when its host name could not be enrolled', async (t) => {
  const kagi = await build(t, { env: { KAGI_DEVICE_HOSTNAME_SUFFIXES: 'example.com' } })
  const device = (hostname: string) => ({ name: 'Mac', platform: 'macos', hostname })
  const outside = await kagi.app.inject({ method: 'POST', url: '/api/v1/scep/challenges', headers: kagi.as.mdm, payload: { user: 'alice@example.com', device: device('mac.evil.example'), profile: 'device' } })
  t.equal(outside.statusCode, 400)
  t.match(outside.json().error.code, 'profile_violation')
  const held = await kagi.app.inject({ method: 'POST', url: '/api/v1/certificates', headers: kagi.as.admin, payload: { profile: 'device', user: 'bob@example.com', device: device('mac.example.com') } })
  t.equal(held.statusCode, 201)
  const taken = await kagi.app.inject({ method: 'POST', url: '/api/v1/scep/challenges', headers: kagi.as.mdm, payload: { user: 'alice@example.com', device: device('mac.example.com'), profile: 'device' } })
  t.equal(taken.statusCode, 409)
  t.equal(taken.json().error.code, 'hostname_taken')
  const own = await kagi.app.inject({ method: 'POST', url: '/api/v1/scep/challenges', headers: kagi.as.mdm, payload: { user: 'bob@example.com', device: device('mac.example.com'), profile: 'device' } })
  t.equal(own.statusCode, 201, "the holder's own renewal is fine")
  const rows = await sql<{ n: number }>`select count(*)::int as n from scep_challenge`.execute(kagi.database.db)
  t.equal(rows.rows[0]!.n, 1, 'refused requests stored no challenge')
})
