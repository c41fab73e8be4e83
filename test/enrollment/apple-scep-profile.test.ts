import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { buildAppleProfile } from '../../enrollment/apple-profile.js'
import { buildAppleScepProfile } from '../../enrollment/apple-scep-profile.js'
import { buildScepBundle } from '../../enrollment/bundle.js'
import type { ScepEnrollment } from '../../enrollment/bundle-types.js'
import { run, tempDir } from '../support/openssl.js'
import { dataOf, fixtureCredentials, parseProfile, pem, skipUnlessTools, testSettings, type Dict } from './fixtures/helpers.js'

const skip = skipUnlessTools(t, ['openssl', 'plistutil', 'python3'])
const { root, issuing, user, device } = fixtureCredentials()

const enrollment = (kind: 'user' | 'device'): ScepEnrollment => ({
  kind,
  subject: kind === 'user' ? 'alice@example.com' : 'alice-macbook.corp.example.com',
  email: 'alice@example.com',
  deviceId: user.deviceId,
  deviceName: 'Alice MacBook',
  chain: [issuing, root],
  url: `https://kagi.example.com/scep?profile=${kind}`,
  challenge: '0123456789ABCDEF0123456789ABCDEF',
})

const byType = (profile: Dict, type: string): Dict[] => (profile.PayloadContent as Dict[]).filter((p) => p.PayloadType === type)

for (const kind of ['user', 'device'] as const) {
  t.test(`ok/${kind}: a SCEP payload instead of a PKCS#12, the CA payloads, GlobalProtect wired to it`, { skip }, async (t) => {
    for (const platform of ['macos', 'ios'] as const) {
      const e = enrollment(kind)
      const profile = parseProfile(t, buildAppleScepProfile(platform, e, testSettings()))
      t.equal(profile.PayloadType, 'Configuration')
      t.equal(profile.PayloadIdentifier, `com.example.kagi.enrollment.${kind}.${e.deviceId}`)
      t.equal(profile.PayloadScope, platform === 'macos' ? (kind === 'device' ? 'System' : 'User') : undefined, `${platform}: PayloadScope`)
      t.match(profile.PayloadDescription, /over SCEP/)
      t.same(
        (profile.PayloadContent as Dict[]).map((p) => p.PayloadType),
        ['com.apple.security.root', 'com.apple.security.pkcs1', 'com.apple.security.scep', platform === 'macos' ? 'com.apple.ManagedClient.preferences' : 'com.apple.vpn.managed'],
        `${platform}: payloads`,
      )
      t.equal(byType(profile, 'com.apple.security.pkcs12').length, 0, 'no key in the profile')
      t.ok(dataOf(byType(profile, 'com.apple.security.root')[0]!.PayloadContent).equals(root), 'root CA')
      t.ok(dataOf(byType(profile, 'com.apple.security.pkcs1')[0]!.PayloadContent).equals(issuing), 'issuing CA')
      const scep = byType(profile, 'com.apple.security.scep')[0]!
      t.same(scep.PayloadContent, {
        URL: e.url,
        Name: 'Example Corp',
        Subject: [[['CN', e.subject]]],
        Challenge: e.challenge,
        Keysize: 2048,
        'Key Type': 'RSA',
        'Key Usage': 5,
        KeyIsExtractable: false,
      })
      if (platform === 'ios') {
        const vpn = byType(profile, 'com.apple.vpn.managed')[0]!.VPN as Dict
        t.equal(vpn.PayloadCertificateUUID, scep.PayloadUUID, 'the VPN payload uses the SCEP identity')
        t.equal(vpn.AuthName, 'alice@example.com')
      }
    }
  })
}

t.test('ok/same identifiers as the PKCS#12 profile of the device: one replaces the other', async (t) => {
  const ids = (xml: Buffer) => [...xml.toString().matchAll(/<key>PayloadIdentifier<\/key>\s*<string>([^<]+)</g)].map((m) => m[1])
  for (const [credential, kind] of [[user, 'user'], [device, 'device']] as const) {
    t.same(ids(buildAppleScepProfile('ios', enrollment(kind), testSettings())), ids(buildAppleProfile('ios', credential, testSettings())), kind)
  }
})

t.test('ok/no portal: only the certificates', { skip }, async (t) => {
  const profile = parseProfile(t, buildAppleScepProfile('ios', enrollment('user'), testSettings({ portal: undefined })))
  t.same((profile.PayloadContent as Dict[]).map((p) => p.PayloadType), ['com.apple.security.root', 'com.apple.security.pkcs1', 'com.apple.security.scep'])
})

t.test('ok/buildScepBundle signs as buildBundle does', { skip }, async (t) => {
  const signer = { certificate: device.certificate, privateKey: device.privateKey, chain: device.chain }
  const unsigned = buildScepBundle('macos', enrollment('user'), testSettings())
  t.equal(unsigned.filename, 'kagi-alice-macbook.mobileconfig')
  t.equal(unsigned.contentType, 'application/x-apple-aspen-config')
  const signed = buildScepBundle('macos', enrollment('user'), testSettings({ signer }))
  t.equal(signed.body[0], 0x30, 'DER CMS')
  const dir = tempDir(t)
  const out = join(dir.dir, 'content.plist')
  const v = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', dir.file('p.mobileconfig', signed.body), '-CAfile', dir.file('root.pem', pem(root)), '-purpose', 'any', '-out', out])
  t.equal(v.status, 0, v.stderr)
  t.ok(readFileSync(out).equals(unsigned.body), 'content = the unsigned profile')
})

t.test('fail/a portal that is no host name', async (t) => {
  t.throws(() => buildAppleScepProfile('ios', enrollment('user'), testSettings({ portal: 'vpn.example.com"; rm' })), /not a host name/)
})
