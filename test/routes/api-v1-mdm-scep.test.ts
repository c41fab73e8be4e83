import 'reflect-metadata'
import { X509Certificate } from 'node:crypto'
import t, { type Test } from 'tap'
import * as pkijs from 'pkijs'
import { MessageType } from '../../ca/scep/index.js'
import { dataOf, parseProfile, skipUnlessTools, type Dict } from '../enrollment/fixtures/helpers.js'
import { build, type TestApp } from '../helper.js'
import { csrFor, newRequester, pkiMessage, readCertRep } from '../support/scep-request.js'

const skip = skipUnlessTools(t, ['plistutil', 'python3'])
const url = (platform: string, query: string) => `/api/v1/mdm/profiles/${platform}?delivery=scep&${query}`

/** The SCEP payload's content and the iOS VPN payload's certificate reference, read with plistlib. */
function scepOf(t: Test, body: Buffer): { scep: Dict; uuid: string; vpnCertificate?: string; root: Buffer } {
  const profile = parseProfile(t, body)
  const payloads = profile.PayloadContent as Dict[]
  const scep = payloads.find((p) => p.PayloadType === 'com.apple.security.scep')!
  const vpn = payloads.find((p) => p.PayloadType === 'com.apple.vpn.managed')
  const root = payloads.find((p) => p.PayloadType === 'com.apple.security.root')!
  return { scep: scep.PayloadContent as Dict, uuid: scep.PayloadUUID as string, vpnCertificate: (vpn?.VPN as Dict | undefined)?.PayloadCertificateUUID as string | undefined, root: dataOf(root.PayloadContent) }
}

/** Enrolls as the device would: GetCACert, a fresh key, a CSR with the profile's challenge, PKCSReq to the profile's URL. */
async function enrollAt(kagi: TestApp, scep: Dict) {
  const target = new URL(scep.URL as string)
  const caRes = await kagi.app.inject({ url: `${target.pathname}?operation=GetCACert` })
  const sd = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(caRes.rawPayload)).content })
  const ra = Buffer.from((sd.certificates![0] as pkijs.Certificate).toSchema().toBER(false))
  const requester = await newRequester()
  const csr = await csrFor(requester.cryptoKeys, 'CN=whatever.example.net', { challenge: scep.Challenge as string })
  const message = pkiMessage(requester, { messageType: MessageType.PKCSReq, recipient: ra, content: csr })
  const res = await kagi.app.inject({ method: 'POST', url: `${target.pathname}${target.search}&operation=PKIOperation`, headers: { 'content-type': 'application/x-pki-message' }, payload: message.der })
  return readCertRep(res.rawPayload, requester)
}

t.test('delivery=scep: a profile with a challenge, with which the device enrolls itself', { skip }, async (t) => {
  const kagi = await build(t, { env: { KAGI_GP_PORTAL: 'vpn.example.com' } })
  const { app, as, services } = kagi
  const res = await app.inject({ url: url('ios', 'user=alice@example.com&device=F2LXK0SCEP'), headers: as.mdm })
  t.equal(res.statusCode, 200, res.body.slice(0, 200))
  t.equal(res.headers['content-type'], 'application/x-apple-aspen-config')
  t.equal(res.rawPayload[0], 0x30, 'signed by default')
  t.notOk(res.headers['x-kagi-serial'], 'no certificate yet')
  t.notOk(res.headers['x-kagi-device-id'], 'the device is not in kagi yet')
  t.ok(new Date(res.headers['x-kagi-challenge-expires'] as string).getTime() > Date.now())
  t.equal((await services.db.selectFrom('certificate').select('serial').execute()).length, 0, 'nothing issued')
  t.equal((await services.db.selectFrom('device').select('id').execute()).length, 0, 'no device added yet')

  const plain = await app.inject({ url: url('ios', 'user=alice@example.com&device=F2LXK0SCEP&signed=false'), headers: as.mdm })
  t.match(plain.body, /^<\?xml/)
  const { scep, uuid, vpnCertificate, root } = scepOf(t, plain.rawPayload)
  t.equal(scep.URL, 'http://kagi.test/scep?profile=user')
  t.match(scep.Challenge, /^[0-9A-F]{32}$/)
  t.same(scep.Subject, [[['CN', 'alice@example.com']]])
  t.equal(vpnCertificate, uuid, 'the VPN payload uses the SCEP identity')
  t.ok(root.equals(services.chainDer[1]!), 'the root CA payload stays')

  const rep = await enrollAt(kagi, scep)
  t.equal(rep.pkiStatus, '0', `SUCCESS (failInfo ${rep.failInfo})`)
  const cert = new X509Certificate(rep.certificate!)
  t.match(cert.subject, /CN=alice@example.com/, 'the certificate names the user of the request, not the CSR')
  t.match(cert.subjectAltName, /email:alice@example.com/)
  const devices = await services.db.selectFrom('device').selectAll().execute()
  t.equal(devices.length, 1, 'the enrollment added the device')
  t.equal(devices[0]!.serial_number, 'F2LXK0SCEP')
  t.equal(devices[0]!.platform, 'ios')
  const stored = await services.db.selectFrom('certificate').selectAll().where('status', '=', 'active').execute()
  t.equal(stored.length, 1)
  t.equal(stored[0]!.device_id, devices[0]!.id)

  t.equal((await enrollAt(kagi, scep)).failInfo, '2', 'the challenge works once (badRequest)')
  const again = scepOf(t, (await app.inject({ url: url('ios', 'user=alice@example.com&device=F2LXK0SCEP&signed=false'), headers: as.mdm })).rawPayload)
  t.equal(again.uuid, uuid, 'fetched again after the enrollment: the same payload identity, so the profile is replaced')
})

t.test('delivery=scep, device profile: the URL insists on the profile, the certificate names the host', { skip }, async (t) => {
  const kagi = await build(t)
  const { app, as } = kagi
  const noHost = await app.inject({ url: url('macos', 'user=bob@example.com&device=C02SCEP1&profile=device'), headers: as.mdm })
  t.equal(noHost.statusCode, 400)
  t.match(noHost.json().error.message, /hostname/)
  const res = await app.inject({ url: url('macos', 'user=bob@example.com&device=C02SCEP1&profile=device&hostname=bob-mac.corp.example.com&signed=false'), headers: as.mdm })
  t.equal(res.statusCode, 200, res.body.slice(0, 200))
  const { scep } = scepOf(t, res.rawPayload)
  t.equal(scep.URL, 'http://kagi.test/scep?profile=device')
  t.same(scep.Subject, [[['CN', 'bob-mac.corp.example.com']]])
  t.equal((await enrollAt(kagi, { ...scep, URL: 'http://kagi.test/scep?profile=user' })).failInfo, '2', 'a device challenge cannot be spent on the user profile')
  const rep = await enrollAt(kagi, scep)
  t.equal(rep.pkiStatus, '0', `SUCCESS (failInfo ${rep.failInfo})`)
  t.match(new X509Certificate(rep.certificate!).subject, /CN=bob-mac.corp.example.com/)
})

t.test('delivery=scep for a known device: by id, checked against the inventory', { skip }, async (t) => {
  const { app, as } = await build(t)
  const first = await app.inject({ url: `/api/v1/mdm/profiles/macos?user=erin@example.com&device=C02KNOWN`, headers: as.mdm })
  t.equal(first.statusCode, 200)
  const deviceId = first.headers['x-kagi-device-id'] as string
  const byId = await app.inject({ url: url('macos', `user=erin@example.com&device=${deviceId}&signed=false`), headers: as.mdm })
  t.equal(byId.statusCode, 200, 'no certificate_current: nothing is issued')
  t.equal(byId.headers['x-kagi-device-id'], deviceId)
  const cases: [string, string, number, RegExp][] = [
    ['ios', `user=erin@example.com&device=${deviceId}`, 400, /is a macos device, not ios/],
    ['ios', 'user=erin@example.com&device=C02KNOWN', 400, /is a macos device, not ios/],
    ['macos', `user=frank@example.com&device=${deviceId}`, 404, /no device/],
    ['macos', `user=erin@example.com&device=${deviceId}&hostname=erin.corp.example.com`, 400, /serial number/],
  ]
  for (const [platform, query, status, message] of cases) {
    const res = await app.inject({ url: url(platform, query), headers: as.mdm })
    t.equal(res.statusCode, status, query)
    t.match(res.json().error.message, message, query)
  }
})
