// `kagi secret generate`: how the README's deployment makes the CA passphrase file (and a session secret).
import { existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { writeNewSecret } from '../../src/cli/secret-command.js'
import { loadConfig } from '../../src/config.js'
import { resolvePassphrase } from '../../src/startup/passphrase.js'
import { runKagi } from '../support/kagi-process.js'
import { tempDir } from '../support/openssl.js'

t.test('ok/a new file, mode 0600, 32 random bytes in base64url', async (t) => {
  const { dir } = tempDir(t)
  const [one, two] = [join(dir, 'one'), join(dir, 'two')]
  writeNewSecret(one)
  writeNewSecret(two)
  const text = readFileSync(one, 'utf8')
  t.match(text, /^[A-Za-z0-9_-]{43}\n$/)
  t.equal(Buffer.from(text.trim(), 'base64url').length, 32)
  t.equal(statSync(one).mode & 0o777, 0o600)
  t.not(text, readFileSync(two, 'utf8'), 'random each time')
})

t.test('ok/it is what KAGI_CA_PASSPHRASE_FILE and KAGI_SESSION_SECRET accept', async (t) => {
  const { dir } = tempDir(t)
  const file = join(dir, 'ca-passphrase')
  writeNewSecret(file)
  const value = readFileSync(file, 'utf8').trim()
  const passphrase = resolvePassphrase(loadConfig({ NODE_ENV: 'production', KAGI_CA_PASSPHRASE_FILE: file }))
  t.match(passphrase, { value, source: 'file', warning: undefined })
  t.equal(loadConfig({ KAGI_SESSION_SECRET: value }).sessionSecret, value)
})

t.test('fail/never replaces a file or writes through a link', async (t) => {
  const { dir } = tempDir(t)
  const existing = join(dir, 'existing')
  writeFileSync(existing, 'the passphrase the CA keys are encrypted with\n')
  t.throws(() => writeNewSecret(existing), /already exists; kagi never replaces a secret/)
  t.equal(readFileSync(existing, 'utf8'), 'the passphrase the CA keys are encrypted with\n')
  const target = join(dir, 'target')
  const link = join(dir, 'link')
  symlinkSync(target, link)
  t.throws(() => writeNewSecret(link), /already exists/)
  t.notOk(existsSync(target), 'the link was not followed')
  t.throws(() => writeNewSecret(join(dir, 'missing', 'secret')), /its folder does not exist/)
})

t.test('ok/the CLI writes the file and prints no secret; refuses again with exit 1, no --out with 2', async (t) => {
  const { dir } = tempDir(t)
  const file = join(dir, 'ca-passphrase')
  const env = { PATH: process.env.PATH!, HOME: dir, KAGI_DATA_DIR: join(dir, 'data') }
  const first = runKagi(env, ['secret', 'generate', '--out', file])
  t.equal(first.status, 0, first.stderr)
  const secret = readFileSync(file, 'utf8').trim()
  t.notOk(first.stdout.includes(secret) || first.stderr.includes(secret), 'the secret is not printed')
  t.match(first.stdout, /wrote a new secret to .*ca-passphrase \(mode 0600\)/)
  const again = runKagi(env, ['secret', 'generate', '--out', file])
  t.equal(again.status, 1)
  t.match(again.stderr, /kagi secret generate: .* already exists/)
  t.notMatch(again.stderr, /\n\s+at /, 'no stack trace')
  t.equal(readFileSync(file, 'utf8').trim(), secret, 'unchanged')
  const missing = runKagi(env, ['secret', 'generate'])
  t.equal(missing.status, 2)
  t.match(missing.stderr, /--out FILE is required/)
  t.notOk(existsSync(join(dir, 'data')), 'opens no database or data directory')
})
