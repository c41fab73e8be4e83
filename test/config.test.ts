import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'
import { generatedPassphrasePath, resolvePassphrase } from '../src/startup/passphrase.js'

t.test('ok/defaults', async (t) => {
  const c = loadConfig({})
  t.match(c, { port: 3000, host: '127.0.0.1', publicUrl: 'http://127.0.0.1:3000', dataDir: './data', caKeyType: 'ecdsa-p256', caName: 'kagi', production: false })
  t.equal(c.databaseUrl, undefined)
  t.ok(Object.isFrozen(c))
})

t.test('ok/public-url-and-ipv6', async (t) => {
  t.equal(loadConfig({ KAGI_PUBLIC_URL: 'https://kagi.example.com/' }).publicUrl, 'https://kagi.example.com')
  t.equal(loadConfig({ HOST: '::1', PORT: '8443' }).publicUrl, 'http://[::1]:8443')
  t.equal(loadConfig({ HOST: '0.0.0.0' }).publicUrl, 'http://127.0.0.1:3000')
})

t.test('fail/bad-values-name-the-variable', async (t) => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['fail/port', { PORT: 'abc' }, /PORT/],
    ['fail/port-range', { PORT: '70000' }, /PORT/],
    ['fail/key-type', { KAGI_CA_KEY_TYPE: 'rsa-1024' }, /KAGI_CA_KEY_TYPE: must be one of ecdsa-p256, ecdsa-p384, rsa-3072, rsa-4096/],
    ['fail/public-url', { KAGI_PUBLIC_URL: 'ftp://x' }, /KAGI_PUBLIC_URL: must be an http/],
    ['fail/public-url-no-scheme', { KAGI_PUBLIC_URL: 'kagi.example.com' }, /KAGI_PUBLIC_URL: must be an http/],
    ['fail/database-url', { DATABASE_URL: 'mysql://x' }, /DATABASE_URL: must be a postgres/],
    ['fail/both-passphrases', { KAGI_CA_PASSPHRASE: 'a', KAGI_CA_PASSPHRASE_FILE: '/x' }, /not both/],
    ['fail/ca-name', { KAGI_CA_NAME: 'a/b' }, /KAGI_CA_NAME/],
  ]
  for (const [name, env, message] of cases) t.throws(() => loadConfig(env), { name: 'Error', message }, name)
  let caught: unknown
  try {
    loadConfig({ PORT: 'x' })
  } catch (error) {
    caught = error
  }
  t.ok(caught instanceof ConfigError, 'a ConfigError, which the CLI prints without a stack')
})

t.test('passphrase', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kagi-pass-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  t.throws(() => resolvePassphrase(loadConfig({ NODE_ENV: 'production', KAGI_DATA_DIR: dir })), /NODE_ENV=production requires KAGI_CA_PASSPHRASE/, 'fail/production-without-passphrase')
  t.notOk(existsSync(generatedPassphrasePath(dir)), 'production generates nothing')
  const generated = resolvePassphrase(loadConfig({ KAGI_DATA_DIR: dir }))
  t.equal(generated.source, 'generated')
  t.match(generated.warning, /generated one into/)
  t.equal(statSync(generatedPassphrasePath(dir)).mode & 0o777, 0o600, 'mode 0600')
  t.equal(resolvePassphrase(loadConfig({ KAGI_DATA_DIR: dir })).value, generated.value, 'reused on the next start')
  const file = join(dir, 'pass')
  writeFileSync(file, 'from-a-file-0123456789\n')
  t.equal(resolvePassphrase(loadConfig({ KAGI_CA_PASSPHRASE_FILE: file })).value, 'from-a-file-0123456789')
  t.throws(() => resolvePassphrase(loadConfig({ KAGI_CA_PASSPHRASE_FILE: join(dir, 'missing') })), /cannot read .*ENOENT/)
  t.match(resolvePassphrase(loadConfig({ KAGI_CA_PASSPHRASE: 'short' })).warning, /shorter than 16/)
  t.notMatch(readFileSync(generatedPassphrasePath(dir), 'utf8'), /^\s*$/)
})
