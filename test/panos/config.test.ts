import t from 'tap'
import { ConfigError } from '../../src/config.js'
import { loadPanosConfig } from '../../src/panos/config.js'
import { tempDir } from '../support/openssl.js'

const KEY = 'LUFRPT1-secret-api-key=='

t.test('ok/defaults', async (t) => {
  const { config, warnings } = loadPanosConfig({ KAGI_PANOS_URL: 'https://fw.example.com/api/', KAGI_PANOS_API_KEY: KEY })
  t.equal(config.url, 'https://fw.example.com', 'trailing /api/ dropped')
  t.same(config.auth, { apiKey: KEY, user: undefined })
  t.equal(config.certProfile, 'kagi-devices')
  t.equal(config.vsys, 'vsys1')
  t.equal(config.usernameField, 'subject-alt:email')
  t.equal(config.portal, undefined, 'empty means leave portals alone')
  t.same(warnings, [])
  t.ok(Object.isFrozen(config))
})

t.test('ok/user and password; http warns', async (t) => {
  const { config, warnings } = loadPanosConfig({
    KAGI_PANOS_URL: 'http://127.0.0.1:8080',
    KAGI_PANOS_USER: 'kagi-api',
    KAGI_PANOS_PASSWORD: 'pw',
    KAGI_PANOS_PORTAL: 'GP Portal',
    KAGI_PANOS_GATEWAY: '',
    KAGI_PANOS_USERNAME_FIELD: 'subject:common-name',
  })
  t.same(config.auth, { user: 'kagi-api', password: 'pw' })
  t.equal(config.portal, 'GP Portal')
  t.equal(config.gateway, undefined)
  t.equal(config.usernameField, 'subject:common-name')
  t.match(warnings[0], /http:\/\/.*unencrypted/)
})

t.test('ok/CA file is read', async (t) => {
  const dir = tempDir(t)
  const file = dir.file('ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')
  const { config } = loadPanosConfig({ KAGI_PANOS_URL: 'https://fw', KAGI_PANOS_API_KEY: KEY, KAGI_PANOS_CA_FILE: file })
  t.match(config.caPem, /BEGIN CERTIFICATE/)
})

for (const [name, env, message] of [
  ['no url', { KAGI_PANOS_API_KEY: KEY }, /KAGI_PANOS_URL: required/],
  ['ftp url', { KAGI_PANOS_URL: 'ftp://fw', KAGI_PANOS_API_KEY: KEY }, /KAGI_PANOS_URL: must be the firewall's https:\/\/ URL/],
  ['credentials in url', { KAGI_PANOS_URL: 'https://admin:hunter2@fw', KAGI_PANOS_API_KEY: KEY }, /must not contain credentials/],
  ['no credentials', { KAGI_PANOS_URL: 'https://fw' }, /KAGI_PANOS_API_KEY: required \(or KAGI_PANOS_USER and KAGI_PANOS_PASSWORD/],
  ['user without password', { KAGI_PANOS_URL: 'https://fw', KAGI_PANOS_USER: 'u' }, /KAGI_PANOS_API_KEY: required/],
  ['key and password', { KAGI_PANOS_URL: 'https://fw', KAGI_PANOS_API_KEY: KEY, KAGI_PANOS_USER: 'u', KAGI_PANOS_PASSWORD: 'hunter2' }, /not both/],
  ['profile over 63', { KAGI_PANOS_URL: 'https://fw', KAGI_PANOS_API_KEY: KEY, KAGI_PANOS_CERT_PROFILE: 'x'.repeat(64) }, /KAGI_PANOS_CERT_PROFILE: must be at most 63 characters/],
  ['profile with a quote', { KAGI_PANOS_URL: 'https://fw', KAGI_PANOS_API_KEY: KEY, KAGI_PANOS_CERT_PROFILE: "it's" }, /KAGI_PANOS_CERT_PROFILE: may contain only/],
  ['portal with a quote', { KAGI_PANOS_URL: 'https://fw', KAGI_PANOS_API_KEY: KEY, KAGI_PANOS_PORTAL: "o'portal" }, /KAGI_PANOS_PORTAL: must not contain quotes/],
  ['vsys', { KAGI_PANOS_URL: 'https://fw', KAGI_PANOS_API_KEY: KEY, KAGI_PANOS_VSYS: 'shared' }, /KAGI_PANOS_VSYS: must be a virtual system id/],
  ['username field', { KAGI_PANOS_URL: 'https://fw', KAGI_PANOS_API_KEY: KEY, KAGI_PANOS_USERNAME_FIELD: 'email' }, /KAGI_PANOS_USERNAME_FIELD: must be one of subject-alt:email/],
  ['missing CA file', { KAGI_PANOS_URL: 'https://fw', KAGI_PANOS_API_KEY: KEY, KAGI_PANOS_CA_FILE: '/nonexistent/ca.pem' }, /KAGI_PANOS_CA_FILE: cannot read \/nonexistent\/ca.pem: ENOENT/],
] as const) {
  t.test(`fail/${name}`, async (t) => {
    const error = (() => {
      try {
        loadPanosConfig(env as NodeJS.ProcessEnv)
      } catch (e) {
        return e
      }
    })()
    t.ok(error instanceof ConfigError)
    t.match((error as Error).message, message)
    t.notMatch((error as Error).message, /secret-api-key|hunter2/, 'no secret in the message')
  })
}
