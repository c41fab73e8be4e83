import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { freshPostgresUrl } from './helper.js'
import { runKagi } from './support/kagi-process.js'

// NODE_ENV=production refuses to start without a CA passphrase or without SAML, with the
// tidy one-paragraph message of every configuration error (exit 1), never a stack trace.

async function productionEnv(t: Test, extra: Record<string, string>): Promise<Record<string, string>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-prod-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: dataDir,
    NODE_ENV: 'production',
    KAGI_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '9',
    KAGI_PUBLIC_URL: 'https://kagi.example.com',
    ...extra,
  }
  if (process.env.DATABASE_URL) env.DATABASE_URL = await freshPostgresUrl(t)
  return env
}

/** No stack frame, no error class name, no JSON log line: only kagi's own sentences. */
function tidy(t: Test, output: string): void {
  t.notMatch(output, /^\s+at /m, 'no stack trace')
  t.notMatch(output, /\b\w*Error\b:/, 'no error class name')
  t.notMatch(output, /"level":/, 'nothing logged: it stopped before the server was built')
}

t.test('neither passphrase nor SAML: both are named in one message', async (t) => {
  const r = runKagi(await productionEnv(t, {}), ['serve'])
  t.equal(r.status, 1)
  t.equal(r.stdout, '')
  t.match(r.stderr, /^kagi serve: invalid configuration:\n {2}NODE_ENV=production requires KAGI_CA_PASSPHRASE or KAGI_CA_PASSPHRASE_FILE.*\n {2}NODE_ENV=production requires SAML sign-in: set KAGI_SAML_IDP_METADATA/)
  tidy(t, r.stdout + r.stderr)
})

t.test('a passphrase but no SAML: the SAML requirement, before any CA is created', async (t) => {
  const env = await productionEnv(t, { KAGI_CA_PASSPHRASE: 'a-long-production-passphrase-0123' })
  const r = runKagi(env, ['serve'])
  t.equal(r.status, 1)
  t.match(r.stderr, /^kagi serve: NODE_ENV=production requires SAML sign-in: set KAGI_SAML_IDP_METADATA \(or KAGI_SAML_ENTRY_POINT and KAGI_SAML_IDP_CERT\)\n$/)
  tidy(t, r.stdout + r.stderr)
  // `kagi ca show` (outside production, same data) finds no CA: the refusal came before one was created.
  const show = runKagi({ ...env, NODE_ENV: 'development' }, ['ca', 'show'])
  t.not(show.status, 0, show.stdout + show.stderr)
  t.match(show.stdout + show.stderr, /no CA yet/)
})

t.test('SAML but no passphrase: the passphrase requirement', async (t) => {
  // Never parsed: the passphrase is checked before the SAML strategy is built.
  const r = runKagi(await productionEnv(t, { KAGI_SAML_ENTRY_POINT: 'https://idp.example.com/sso', KAGI_SAML_IDP_CERT: 'MIIC-not-read' }), ['serve'])
  t.equal(r.status, 1)
  t.match(r.stderr, /^kagi serve: NODE_ENV=production requires KAGI_CA_PASSPHRASE or KAGI_CA_PASSPHRASE_FILE \(the passphrase that encrypts the CA keys\)\n$/)
  tidy(t, r.stdout + r.stderr)
})
