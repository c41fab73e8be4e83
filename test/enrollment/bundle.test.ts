import t from 'tap'
import { fileStem, portalAddress, stableUuid } from '../../enrollment/bundle-common.js'
import { newPkcs12Password as randomPassword } from '../../enrollment/password.js'
import { bundleInstructions, buildBundle } from '../../enrollment/bundle.js'
import { platforms, type Credential } from '../../enrollment/bundle-types.js'
import { instructionLanguages, macosPortalCommand } from '../../enrollment/instructions.js'
import { fixtureCredentials, seededRandom, testSettings } from './fixtures/helpers.js'

const { user, device } = fixtureCredentials()

t.test('ok/buildBundle: file name, MIME type and password per platform', async (t) => {
  const expected = {
    macos: ['kagi-alice-macbook.mobileconfig', 'application/x-apple-aspen-config'],
    ios: ['kagi-alice-macbook.mobileconfig', 'application/x-apple-aspen-config'],
    windows: ['kagi-alice-macbook.ps1', 'application/octet-stream'],
    chromeos: ['kagi-alice-macbook.onc', 'application/x-onc'],
    android: ['kagi-alice-macbook.zip', 'application/zip'],
  } as const
  for (const platform of platforms) {
    const bundle = buildBundle(platform, user, testSettings())
    t.same([bundle.filename, bundle.contentType], expected[platform], platform)
    t.ok(bundle.body.length > 1000, `${platform}: a body`)
    if (platform === 'android') t.match(bundle.pkcs12Password, /^[a-z2-9]{4}(-[a-z2-9]{4}){4}$/, 'android returns the password')
    else t.equal(bundle.pkcs12Password, undefined, `${platform}: password embedded, none returned`)
  }
  t.equal(buildBundle('windows', device, testSettings()).filename, 'kagi-alice-macbook-device.ps1', 'machine bundles are told apart')
  t.match(buildBundle('macos', user, testSettings()).body.toString('utf8', 0, 5), '<?xml', 'unsigned without a signer')
})

t.test('ok/file name stems: [a-z0-9-], at most 64 characters with the extension, fallbacks', async (t) => {
  const stem = (patch: Partial<Credential>) => fileStem({ ...user, ...patch })
  t.equal(stem({ deviceName: 'Alice MacBook' }), 'kagi-alice-macbook')
  t.equal(stem({ deviceName: 'Café Ünïcode — PC' }), 'kagi-cafe-unicode-pc', 'accents folded')
  t.equal(stem({ deviceName: '山田のパソコン' }), 'kagi-alice-example-com', 'no ASCII: falls back to the subject')
  t.equal(stem({ deviceName: '', subject: '鍵' }), 'kagi-6f1c2b9e-3d4a-4f5b-8c7d-9e0f1a2b3c4d', 'then to the device id')
  t.equal(stem({ deviceName: '../../etc/passwd"; rm -rf' }), 'kagi-etc-passwd-rm-rf')
  const long = stem({ deviceName: 'x'.repeat(200), kind: 'device' })
  t.ok(`${long}.mobileconfig`.length <= 64, 'longest name fits in 64')
  t.ok(long.endsWith('-device'))
  for (const s of [long, stem({ deviceName: 'a-'.repeat(40) })]) t.match(s, /^[a-z0-9]+(-[a-z0-9]+)*$/)
})

t.test('ok/stable UUIDs: RFC 4122 layout, version 5 nibble, deterministic, distinct', async (t) => {
  const a = stableUuid('com.example.kagi.enrollment.user.1')
  t.match(a, /^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/)
  t.equal(stableUuid('com.example.kagi.enrollment.user.1'), a)
  t.not(stableUuid('com.example.kagi.enrollment.user.2'), a)
})

t.test('ok/one-time passwords: format, alphabet, every symbol drawn', async (t) => {
  const seen = new Set<string>()
  const random = seededRandom('passwords')
  for (let i = 0; i < 200; i++) {
    const p = randomPassword(random)
    t.match(p, /^[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){4}$/)
    for (const c of p.replace(/-/g, '')) seen.add(c)
  }
  t.equal(seen.size, 31, 'all 31 symbols occur, none other')
  t.not(randomPassword(seededRandom('a')), randomPassword(seededRandom('b')))
})

t.test('fail/portal addresses that could inject into a script, a shell or XML', async (t) => {
  for (const ok of ['vpn.example.com', 'VPN-1.example.co.jp', 'vpn.example.com:4443', '192.0.2.10']) t.equal(portalAddress(ok), ok)
  t.equal(portalAddress(undefined), undefined)
  t.equal(portalAddress('  '), undefined, 'blank = not configured')
  for (const bad of ["vpn'.example.com", 'vpn.example.com; rm -rf /', 'https://vpn.example.com', 'vpn example', '-vpn.example.com', 'a"b', 'vpn.example.com:123456']) {
    t.throws(() => portalAddress(bad), /not a host name/, bad)
    t.throws(() => buildBundle('macos', user, testSettings({ portal: bad })), /not a host name/)
  }
})

t.test('ok/instructions: every platform, kind and language, with the known traps', async (t) => {
  const options = { portal: 'vpn.example.com', filename: 'kagi-alice-macbook.x', organization: 'Example Corp' }
  for (const platform of platforms) {
    for (const kind of ['user', 'device'] as const) {
      const en = bundleInstructions(platform, kind, 'en', options)
      const ja = bundleInstructions(platform, kind, 'ja', options)
      t.ok(en.length >= 3 && en.length === ja.length, `${platform}/${kind}: steps in both languages`)
      t.ok(ja.every((step) => /[\u3040-\u30ff\u4e00-\u9fff]/.test(step)), `${platform}/${kind}: Japanese steps are Japanese`)
      for (const lang of instructionLanguages) {
        const steps = bundleInstructions(platform, kind, lang, options).join('\n')
        t.match(steps, 'vpn.example.com', `${platform}/${kind}/${lang}: names the portal`)
        const none = bundleInstructions(platform, kind, lang).join('\n')
        t.notMatch(none, 'vpn.example.com')
        t.notMatch(none, /undefined/)
      }
    }
  }
  const all = (platform: (typeof platforms)[number], lang: 'en' | 'ja', kind: 'user' | 'device' = 'user') => bundleInstructions(platform, kind, lang, options).join('\n')
  t.match(all('macos', 'en'), 'PXPZ95SK77')
  t.match(all('macos', 'en'), 'Login Items & Extensions')
  t.match(all('macos', 'en'), 'Privacy & Security')
  t.match(all('macos', 'ja'), 'ログイン項目と機能拡張')
  t.match(all('macos', 'en'), macosPortalCommand('vpn.example.com', 'user'), 'macOS gives the defaults write fallback')
  t.match(all('macos', 'en', 'device'), 'Prelogon = "1";')
  t.match(all('macos', 'en', 'device'), 'System keychain')
  t.match(all('ios', 'en'), 'Settings → General → About → Certificate Trust Settings')
  t.match(all('ios', 'ja'), '設定 → 一般 → 情報 → 証明書信頼設定')
  t.match(all('ios', 'en'), 'Profile Downloaded')
  t.match(all('ios', 'ja'), 'プロファイルがダウンロードされました')
  t.match(all('windows', 'en'), 'Current User → Personal')
  t.match(all('windows', 'en', 'device'), 'Local Computer → Personal')
  t.match(all('windows', 'en'), 'administrator approval (UAC)')
  t.match(all('windows', 'en'), 'powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\\kagi-alice-macbook.x')
  t.match(all('chromeos', 'en'), 'chrome://network')
  t.match(all('chromeos', 'en'), 'Import ONC file')
  t.match(all('chromeos', 'en'), 'chrome://settings/certificates')
  t.match(all('chromeos', 'en'), 'Trust this certificate for identifying websites')
  const ca = { root: 'https://kagi.example.com/pki/root.crt', issuing: 'https://kagi.example.com/pki/issuing.crt' }
  for (const lang of instructionLanguages) {
    const withCa = bundleInstructions('chromeos', 'user', lang, { ...options, caCertificates: ca }).join('\n')
    t.match(withCa, ca.root, `chromeos/${lang}: the step that asks for the root CA says where to download it`)
    t.match(withCa, ca.issuing, `chromeos/${lang}: and the issuing CA`)
  }
  t.match(all('chromeos', 'en'), 'ask your administrator for the root CA certificate', 'without download addresses, nothing points at a page that has none')
  t.match(all('android', 'en'), 'Encryption & credentials → Install a certificate → VPN & app user certificate')
  t.match(all('android', 'en'), 'password shown on the download page')
  t.match(all('android', 'ja'), '暗号化と認証情報')
  t.throws(() => bundleInstructions('macos', 'user', 'en', { portal: 'x; rm -rf /' }), /not a host name/, 'the shell command never carries an unchecked portal')
})
