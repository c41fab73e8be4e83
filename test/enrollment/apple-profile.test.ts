import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { buildAppleProfile } from '../../enrollment/apple-profile.js'
import { buildBundle } from '../../enrollment/bundle.js'
import type { BundleSettings, Credential } from '../../enrollment/bundle-types.js'
import { run, tempDir } from '../support/openssl.js'
import { assertPkcs12, dataOf, freshCredential, parseProfile, pem, skipUnlessTools, testSettings, type Dict } from './fixtures/helpers.js'

const skip = skipUnlessTools(t, ['openssl', 'plistutil', 'python3'])

const UUID = /^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/

const byType = (profile: Dict, type: string): Dict[] => (profile.PayloadContent as Dict[]).filter((p) => p.PayloadType === type)

function commonChecks(t: Test, profile: Dict, credential: Credential, settings: BundleSettings): void {
  t.equal(profile.PayloadType, 'Configuration')
  t.equal(profile.PayloadVersion, 1)
  t.equal(profile.PayloadIdentifier, `com.example.kagi.enrollment.${credential.kind}.${credential.deviceId}`, 'identifier stable per device and kind')
  t.match(profile.PayloadUUID, UUID, 'top-level UUID is a (name-based) UUID')
  t.equal(profile.PayloadOrganization, settings.organization)
  t.match(profile.PayloadDisplayName, settings.organization)
  t.match(profile.PayloadDescription, credential.subject)
  const payloads = profile.PayloadContent as Dict[]
  const ids = payloads.map((p) => p.PayloadIdentifier as string)
  const uuids = payloads.map((p) => p.PayloadUUID as string)
  t.equal(new Set(ids).size, ids.length, 'payload identifiers unique in the profile')
  t.equal(new Set([...uuids, profile.PayloadUUID]).size, uuids.length + 1, 'payload UUIDs unique')
  for (const p of payloads) {
    t.equal(p.PayloadVersion, 1)
    t.match(p.PayloadUUID, UUID)
    t.ok((p.PayloadIdentifier as string).startsWith(`${profile.PayloadIdentifier as string}.`), 'payload identifier extends the profile identifier')
  }
  const [root] = byType(profile, 'com.apple.security.root')
  const [issuing] = byType(profile, 'com.apple.security.pkcs1')
  t.ok(dataOf(root!.PayloadContent).equals(credential.chain[1]!), 'root payload holds the root DER')
  t.ok(dataOf(issuing!.PayloadContent).equals(credential.chain[0]!), 'pkcs1 payload holds the issuing CA DER')
  t.equal(byType(profile, 'com.apple.security.pkcs12').length, 1, 'one identity')
}

const cases = [
  { name: 'EC P-256 user leaf, ECDSA CA', ca: 'ecdsa-p256', leaf: 'ec-p256', kind: 'user' },
  { name: 'RSA-2048 user leaf, ECDSA CA', ca: 'ecdsa-p256', leaf: 'rsa-2048', kind: 'user' },
  { name: 'RSA-2048 device leaf, ECDSA CA', ca: 'ecdsa-p256', leaf: 'rsa-2048', kind: 'device' },
  { name: 'EC P-256 device leaf, RSA CA', ca: 'rsa-3072', leaf: 'ec-p256', kind: 'device' },
] as const

for (const c of cases) {
  t.test(`ok/macos and ios, ${c.name}`, { skip }, async (t) => {
    const pki = await freshCredential(c.ca, c.leaf, c.kind)
    const { credential } = pki
    for (const platform of ['macos', 'ios'] as const) {
      const settings = testSettings()
      const profile = parseProfile(t, buildAppleProfile(platform, credential, settings))
      commonChecks(t, profile, credential, settings)
      t.equal(profile.PayloadScope, platform === 'macos' ? (c.kind === 'device' ? 'System' : 'User') : undefined, `${platform}: PayloadScope`)

      const identity = byType(profile, 'com.apple.security.pkcs12')[0]!
      t.match(identity.Password, /^[a-z2-9]{4}(-[a-z2-9]{4}){4}$/, 'random password in the payload, so the user is not prompted')
      t.match(identity.PayloadCertificateFileName, /^kagi-[a-z0-9-]+\.p12$/)
      assertPkcs12(t, dataOf(identity.PayloadContent), identity.Password as string, pki, [credential.certificate])

      const settingsPayloads = byType(profile, 'com.apple.ManagedClient.preferences')
      const vpn = byType(profile, 'com.apple.vpn.managed')
      if (platform === 'macos') {
        t.equal(vpn.length, 0, 'no VPN payload on macOS')
        t.equal(settingsPayloads.length, 1, 'GlobalProtect settings payload')
        const domain = (settingsPayloads[0]!.PayloadContent as Dict)['com.paloaltonetworks.GlobalProtect.settings'] as Dict
        const forced = (domain.Forced as Dict[])[0]!.mcx_preference_settings as Dict
        const panSetup = ((forced['Palo Alto Networks'] as Dict).GlobalProtect as Dict).PanSetup as Dict
        t.same(panSetup, c.kind === 'device' ? { Portal: 'vpn.example.com', Prelogon: '1' } : { Portal: 'vpn.example.com' }, 'PanSetup as GlobalProtect lays it out')
      } else {
        t.equal(settingsPayloads.length, 0, 'no managed preferences on iOS')
        t.equal(vpn.length, 1, 'VPN payload on iOS')
        const v = vpn[0]!
        t.equal(v.VPNType, 'VPN')
        t.equal(v.VPNSubType, 'com.paloaltonetworks.GlobalProtect.vpnplugin')
        t.equal(v.UserDefinedName, 'Example Corp VPN')
        t.same(v.IPv4, { OverridePrimary: 0 })
        t.same(v.VPN, { RemoteAddress: 'vpn.example.com', AuthName: credential.email, AuthenticationMethod: 'Certificate', PayloadCertificateUUID: identity.PayloadUUID }, 'VPN dict references the identity payload')
      }
    }
  })
}

t.test('ok/no portal: no VPN and no GlobalProtect settings payload; custom VPNSubType', { skip }, async (t) => {
  const { credential } = await freshCredential('ecdsa-p256', 'ec-p256')
  for (const platform of ['macos', 'ios'] as const) {
    const profile = parseProfile(t, buildAppleProfile(platform, credential, testSettings({ portal: undefined })))
    t.same((profile.PayloadContent as Dict[]).map((p) => p.PayloadType), ['com.apple.security.root', 'com.apple.security.pkcs1', 'com.apple.security.pkcs12'], platform)
    t.notMatch(profile.PayloadDescription, 'portal')
  }
  const custom = parseProfile(t, buildAppleProfile('ios', credential, testSettings({ vpnSubType: 'com.paloaltonetworks.globalprotect.vpn' })))
  t.equal(byType(custom, 'com.apple.vpn.managed')[0]!.VPNSubType, 'com.paloaltonetworks.globalprotect.vpn')
})

t.test('ok/identifiers and UUIDs stable across re-enrollment; new certificate, same payload identities', async (t) => {
  const first = await freshCredential('ecdsa-p256', 'ec-p256')
  const second = await freshCredential('ecdsa-p256', 'ec-p256') // same device id, new CA, key and certificate
  const ids = (xml: Buffer) => [...xml.toString().matchAll(/<key>(PayloadIdentifier|PayloadUUID)<\/key>\s*<string>([^<]+)</g)].map((m) => m[2])
  const a = buildAppleProfile('macos', first.credential, testSettings())
  const b = buildAppleProfile('macos', second.credential, testSettings({ random: undefined }))
  t.same(ids(a), ids(b), 'same identifiers and UUIDs')
  t.not(a.toString(), b.toString(), 'different content')
  const device = buildAppleProfile('macos', { ...first.credential, kind: 'device' }, testSettings())
  t.notSame(ids(device), ids(a), 'user and device profiles do not replace each other')
})

t.test('ok/signed through buildBundle: DER CMS that openssl verifies against the root, content = unsigned profile', { skip }, async (t) => {
  for (const [ca, leaf] of [['ecdsa-p256', 'rsa-2048'], ['rsa-3072', 'ec-p256']] as const) {
    const pki = await freshCredential(ca, 'ec-p256')
    const signerPki = await freshCredential(ca, leaf) // a second hierarchy: the signer's own root is the trust anchor
    const signer = { certificate: signerPki.credential.certificate, privateKey: signerPki.credential.privateKey, chain: signerPki.credential.chain }
    for (const platform of ['macos', 'ios'] as const) {
      const unsigned = buildBundle(platform, pki.credential, testSettings())
      const signed = buildBundle(platform, pki.credential, testSettings({ signer }))
      t.equal(signed.contentType, 'application/x-apple-aspen-config')
      t.equal(signed.filename, unsigned.filename)
      t.equal(signed.body[0], 0x30, 'DER, not XML')
      const dir = tempDir(t)
      const file = dir.file('signed.mobileconfig', signed.body)
      const rootFile = dir.file('root.pem', pem(signerPki.root))
      const out = join(dir.dir, 'content.plist')
      const v = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', rootFile, '-purpose', 'any', '-out', out])
      t.equal(v.status, 0, `${platform}/${leaf} signer verifies: ${v.stderr.trim()}`)
      t.ok(readFileSync(out).equals(unsigned.body), 'signed content equals the unsigned profile')
      parseProfile(t, readFileSync(out))
      const wrongRoot = dir.file('other-root.pem', pem(pki.root))
      t.not(run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', wrongRoot, '-purpose', 'any', '-out', '/dev/null']).status, 0, 'another root does not verify it')
      const tampered = Buffer.from(signed.body)
      const at = tampered.indexOf(Buffer.from('<key>PayloadOrganization</key>'))
      tampered[at + 5] = tampered[at + 5]! ^ 0x20
      t.not(run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', dir.file('tampered', tampered), '-CAfile', rootFile, '-purpose', 'any', '-out', '/dev/null']).status, 0, 'one changed byte fails verification')
    }
  }
})
