import 'reflect-metadata'
import { X509Certificate } from 'node:crypto'
import t from 'tap'
import { MessageType } from '../../ca/scep/index.js'
import { build, type TestApp } from '../helper.js'
import { csrFor, newRequester, pkiMessage, readCertRep, scepRaCertificate } from '../support/scep-request.js'

/** The expression Fleet (and the scripts MDM vendors publish) read NDES's page with. */
const NDES_CHALLENGE = /The enrollment challenge password is: <B> (?<password>\S*)/i

async function ndesChallenge(kagi: TestApp, token = kagi.mdmToken): Promise<string> {
  const res = await kagi.app.inject({ url: '/certsrv/mscep_admin/', headers: { authorization: `Basic ${Buffer.from(`ndes-user:${token}`).toString('base64')}` } })
  if (res.statusCode !== 200) throw new Error(`mscep_admin: ${res.statusCode}`)
  return NDES_CHALLENGE.exec(res.rawPayload.subarray(2).toString('utf16le'))!.groups!.password!
}

async function enroll(kagi: TestApp, challenge: string, subject: string, names: { emails?: readonly string[]; dnsNames?: readonly string[] } = {}) {
  const recipient = await scepRaCertificate(kagi, '/certsrv/mscep/mscep.dll')
  const requester = await newRequester()
  const csr = await csrFor(requester.cryptoKeys, subject, { challenge, ...names })
  const res = await kagi.app.inject({ method: 'POST', url: '/certsrv/mscep/mscep.dll?operation=PKIOperation', payload: pkiMessage(requester, { messageType: MessageType.PKCSReq, recipient, content: csr }).der, headers: { 'content-type': 'application/x-pki-message' } })
  return readCertRep(res.rawPayload, requester)
}

t.test('GET /certsrv/mscep_admin/: the NDES page, HTTP Basic with a token', async (t) => {
  const kagi = await build(t, { env: { KAGI_SCEP_ALLOWED_DOMAINS: 'example.com' } })
  const anonymous = await kagi.app.inject({ url: '/certsrv/mscep_admin/' })
  t.equal(anonymous.statusCode, 401)
  t.match(anonymous.headers['www-authenticate'], /^Basic realm=/)
  const wrong = await kagi.app.inject({ url: '/certsrv/mscep_admin/', headers: { authorization: `Basic ${Buffer.from('x:nope').toString('base64')}` } })
  t.equal(wrong.statusCode, 401)

  const page = await kagi.app.inject({ url: '/certsrv/mscep_admin/', headers: { authorization: `Basic ${Buffer.from(`u:${kagi.mdmToken}`).toString('base64')}` } })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /utf-16/)
  t.same([...page.rawPayload.subarray(0, 2)], [0xff, 0xfe], 'UTF-16LE byte-order mark, as NDES')
  const text = page.rawPayload.subarray(2).toString('utf16le')
  t.match(text, /expire within 60 minutes/)
  t.match(NDES_CHALLENGE.exec(text)?.groups?.password, /^[0-9A-F]{32}$/)
  t.equal(page.headers['cache-control'], 'no-store')

  // Known people and devices, in the allowed domain.
  await kagi.app.inject({ method: 'POST', url: '/api/v1/certificates', headers: kagi.as.admin, payload: { profile: 'user', user: 'alice@example.com' } })
  const device = await kagi.app.inject({
    method: 'POST',
    url: '/api/v1/certificates',
    headers: kagi.as.admin,
    payload: { profile: 'device', user: 'bob@example.com', device: { name: 'Bob PC', platform: 'windows', hostname: 'bob-pc.example.com' } },
  })
  t.equal(device.statusCode, 201)

  t.test("the GlobalProtect portal's CN=$USERNAME finds the user in the allowed domain", async (t) => {
    const rep = await enroll(kagi, await ndesChallenge(kagi), 'CN=alice')
    t.equal(rep.pkiStatus, '0', `SUCCESS (${rep.failInfo})`)
    const cert = new X509Certificate(rep.certificate!)
    t.match(cert.subject, /CN=alice@example\.com/)
  })

  t.test('a host name of a known device gets its machine certificate, for its owner', async (t) => {
    const rep = await enroll(kagi, await ndesChallenge(kagi), 'CN=whatever', { dnsNames: ['bob-pc.example.com'] })
    t.equal(rep.pkiStatus, '0', `SUCCESS (${rep.failInfo})`)
    const cert = new X509Certificate(rep.certificate!)
    t.match(cert.subject, /CN=bob-pc\.example\.com/)
    t.match(cert.subjectAltName, /DNS:bob-pc\.example\.com/)
  })

  t.test('names kagi does not know, or outside the domains, enroll nobody; a challenge works once', async (t) => {
    for (const [subject, names] of [
      ['CN=nobody@example.com', {}],
      ['CN=mallory', { emails: ['mallory@evil.example'] }],
      ['CN=x', { emails: ['alice@example.com.evil.example'] }],
      ['CN=unknown-host.example.com', {}],
    ] as const) {
      const rep = await enroll(kagi, await ndesChallenge(kagi), subject, names)
      t.equal(rep.failInfo, '2', `${subject} ${JSON.stringify(names)}: badRequest`)
    }
    const once = await ndesChallenge(kagi)
    t.equal((await enroll(kagi, once, 'CN=alice')).pkiStatus, '0')
    t.equal((await enroll(kagi, once, 'CN=alice')).failInfo, '2', 'spent')
  })
})

t.test('without KAGI_SCEP_ALLOWED_DOMAINS an NDES challenge enrolls nobody', async (t) => {
  const kagi = await build(t)
  await kagi.app.inject({ method: 'POST', url: '/api/v1/certificates', headers: kagi.as.admin, payload: { profile: 'user', user: 'alice@example.com' } })
  const rep = await enroll(kagi, await ndesChallenge(kagi), 'CN=alice@example.com')
  t.equal(rep.pkiStatus, '2')
  t.equal(rep.failInfo, '2')
})
