import 'reflect-metadata'
import { X509Certificate } from 'node:crypto'
import { sql } from 'kysely'
import t from 'tap'
import { MessageType } from '../../ca/scep/index.js'
import { build, type TestApp } from '../helper.js'
import { csrFor, newRequester, pkiMessage, readCertRep, scepChallenge, scepRaCertificate, type Requester } from '../support/scep-request.js'

const DAY = 86_400_000

async function post(kagi: TestApp, requester: Requester, der: Buffer) {
  const res = await kagi.app.inject({ method: 'POST', url: '/scep?operation=PKIOperation', headers: { 'content-type': 'application/x-pki-message' }, payload: der })
  return readCertRep(res.rawPayload, requester)
}

/** Enrolls over SCEP with a fresh challenge; returns the requester holding the issued certificate (the renewal signer). */
async function enrollOver(kagi: TestApp, ra: Buffer, body: object): Promise<Requester & { cryptoKeys: CryptoKeyPair }> {
  const challenge = await scepChallenge(kagi, body)
  const requester = await newRequester()
  const csr = await csrFor(requester.cryptoKeys, 'CN=ignored', { challenge })
  const rep = await post(kagi, requester, pkiMessage(requester, { messageType: MessageType.PKCSReq, recipient: ra, content: csr }).der)
  if (rep.pkiStatus !== '0') throw new Error(`enrollment failed: ${rep.failInfo}`)
  return { ...requester, certificate: rep.certificate! }
}

async function renew(kagi: TestApp, ra: Buffer, holder: Requester & { cryptoKeys: CryptoKeyPair }) {
  const next = await newRequester()
  const csr = await csrFor(next.cryptoKeys, 'CN=ignored')
  // Signed with the old certificate and its key (RFC 8894 §3.3.1.2); the reply is encrypted to it.
  return post(kagi, holder, pkiMessage(holder, { messageType: MessageType.RenewalReq, recipient: ra, content: csr, transactionId: `renew-${Math.random()}` }).der)
}

t.test('RenewalReq', async (t) => {
  let now = Date.now() - 300 * DAY
  const kagi = await build(t, { clock: () => new Date(now) })
  const ra = await scepRaCertificate(kagi)
  const device = { name: 'Old Mac', platform: 'macos', hostname: 'old-mac.example.com' }
  const old = await enrollOver(kagi, ra, { user: 'alice@example.com', device, profile: 'device' })
  const revoked = await enrollOver(kagi, ra, { user: 'carol@example.com', profile: 'user' })
  now = Date.now()

  t.test('in the last third of its life: same owner, device and profile; the old one superseded', async (t) => {
    const rep = await renew(kagi, ra, old)
    t.equal(rep.pkiStatus, '0', `SUCCESS (${rep.failInfo})`)
    const cert = new X509Certificate(rep.certificate!)
    t.match(cert.subject, /CN=old-mac\.example\.com/)
    const oldSerial = new X509Certificate(old.certificate).serialNumber.toLowerCase()
    const rows = await sql<{ serial: string; status: string; revocation_reason: string | null; device_id: string | null }>`
      select serial, status, revocation_reason, device_id from certificate where serial in (${oldSerial}, ${cert.serialNumber.toLowerCase()})`.execute(kagi.database.db)
    const byStatus = Object.fromEntries(rows.rows.map((r) => [r.serial, r]))
    t.equal(byStatus[oldSerial]!.status, 'revoked')
    t.equal(byStatus[oldSerial]!.revocation_reason, 'superseded')
    t.equal(byStatus[cert.serialNumber.toLowerCase()]!.device_id, byStatus[oldSerial]!.device_id, 'same device')
    const again = await renew(kagi, ra, old)
    t.equal(again.pkiStatus, '2', 'the superseded certificate cannot renew again')
  })

  t.test('refused: too early, revoked, foreign', async (t) => {
    now = Date.now() - 300 * DAY
    const young = await enrollOver(kagi, ra, { user: 'dave@example.com', profile: 'user' })
    now = Date.now() // a certificate issued now is in its first third
    const tooEarly = await enrollOver(kagi, ra, { user: 'erin@example.com', profile: 'user' })
    t.equal((await renew(kagi, ra, tooEarly)).failInfo, '2', 'first two thirds: badRequest')
    t.equal((await renew(kagi, ra, young)).pkiStatus, '0', 'last third: renewed')
    const serial = new X509Certificate(revoked.certificate).serialNumber.toLowerCase()
    t.equal((await kagi.app.inject({ method: 'POST', url: `/api/v1/certificates/${serial}/revoke`, headers: kagi.as.admin, payload: { reason: 'keyCompromise' } })).statusCode, 200)
    t.equal((await renew(kagi, ra, revoked)).failInfo, '2', 'revoked: badRequest')
    const stranger = await newRequester()
    t.equal((await renew(kagi, ra, stranger)).failInfo, '2', 'a certificate kagi did not issue: badRequest')
  })

  t.test('expired', async (t) => {
    now = Date.now() - 400 * DAY
    const expired = await enrollOver(kagi, ra, { user: 'gina@example.com', profile: 'user' })
    now = Date.now()
    t.equal((await renew(kagi, ra, expired)).failInfo, '2', 'expired: badRequest')
  })
})
