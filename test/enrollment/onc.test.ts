import t from 'tap'
import { pemToDer } from '../../ca/der.js'
import { buildOnc, type OncConfiguration } from '../../enrollment/onc.js'
import { assertPkcs12, freshCredential, seededRandom, skipUnlessTools, testSettings } from './fixtures/helpers.js'

const skip = skipUnlessTools(t, ['openssl'])

for (const leaf of ['ec-p256', 'rsa-2048'] as const) {
  t.test(`ok/ONC per the spec, ${leaf} leaf`, { skip }, async (t) => {
    const pki = await freshCredential('ecdsa-p256', leaf)
    const { credential } = pki
    const text = buildOnc(credential, testSettings()).toString('utf8')
    const onc = JSON.parse(text) as OncConfiguration
    // onc_spec "UnencryptedConfiguration type": Type, Certificates, NetworkConfigurations, nothing else.
    t.same(Object.keys(onc).sort(), ['Certificates', 'NetworkConfigurations', 'Type'])
    t.equal(onc.Type, 'UnencryptedConfiguration')
    t.same(onc.NetworkConfigurations, [])
    t.equal(onc.Certificates.length, 3)

    // onc_spec "Certificate type": Authority has X509 (PEM) and TrustBits; Client has PKCS12.
    const [root, issuing, client] = onc.Certificates
    for (const [cert, der] of [[root!, pki.root], [issuing!, pki.issuing]] as const) {
      t.same(Object.keys(cert).sort(), ['GUID', 'TrustBits', 'Type', 'X509'])
      t.equal(cert.Type, 'Authority')
      t.same(cert.TrustBits, ['Web'])
      t.match(cert.X509, /^-----BEGIN CERTIFICATE-----\n/)
      t.ok(pemToDer(cert.X509!, 'CERTIFICATE').equals(der), 'X509 is the CA certificate')
    }
    t.same(Object.keys(client!).sort(), ['GUID', 'PKCS12', 'Type'])
    t.equal(client!.Type, 'Client')
    t.match(client!.PKCS12, /^[A-Za-z0-9+/]+=*$/, 'PKCS12 is plain base64')

    // "The passphrase of the PKCS#12 encoding must be empty."
    assertPkcs12(t, Buffer.from(client!.PKCS12!, 'base64'), '', pki, [credential.certificate])

    // GUIDs: non-empty, unique in the file, stable across builds.
    const guids = onc.Certificates.map((c) => c.GUID)
    t.ok(guids.every((g) => g.length > 0))
    t.equal(new Set(guids).size, 3, 'GUIDs unique')
    t.equal(client!.GUID, `com.example.kagi.client.user.${credential.deviceId}`, 'client GUID per device and kind')
    t.match(root!.GUID, /^com\.example\.kagi\.root\.[0-9a-f]{16}$/)
    const again = JSON.parse(buildOnc(credential, testSettings({ random: seededRandom('another seed') })).toString()) as OncConfiguration
    t.same(again.Certificates.map((c) => c.GUID), guids, 'GUIDs stable across two builds')
    t.not(again.Certificates[2]!.PKCS12, client!.PKCS12, '(while the PKCS#12 salts differ)')
    t.ok(text.endsWith('}\n'), 'JSON with a trailing newline')
  })
}

t.test('ok/CA GUIDs follow the CA certificate; the client GUID follows the device, not the certificate', async (t) => {
  const a = await freshCredential('ecdsa-p256', 'ec-p256')
  const b = await freshCredential('ecdsa-p256', 'ec-p256')
  const guids = (c: typeof a.credential) => (JSON.parse(buildOnc(c, testSettings()).toString()) as OncConfiguration).Certificates.map((x) => x.GUID)
  const [rootA, issuingA, clientA] = guids(a.credential)
  const [rootB, issuingB, clientB] = guids(b.credential)
  t.not(rootA, rootB, 'another root, another GUID')
  t.not(issuingA, issuingB)
  t.equal(clientA, clientB, 'a re-enrolled device replaces its client certificate')
  t.not(guids({ ...a.credential, kind: 'device' })[2], clientA, 'user and device certificates are separate entries')
})
