import { spawnSync } from 'node:child_process'
import { mkdtempSync, promises as fs, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import path from 'node:path'
import { FileMigrationProvider, Migrator } from 'kysely'
import t, { type Test } from 'tap'
import { x509lib } from '../../ca/index.js'
import { migrateToLatest, migrationsDir } from '../../src/db/migrator.js'
import { initCa, loadCa } from '../../src/startup/ca-loader.js'
import { resolvePublicUrl } from '../../src/startup/public-url.js'
import { createServices } from '../../src/startup/services.js'
import { enroll, issueEnrollment } from '../../src/use-cases/enroll.js'
import { freshPostgresUrl, testConfig, testDatabase } from '../helper.js'

// The public URL is stored with the CA; every process takes it from there (src/startup/public-url.ts).

const bin = join(import.meta.dirname, '..', '..', 'bin', 'kagi.js')

/** A kagi installation driven through the built CLI, as test/cli.test.ts does; `env` is added to each command's environment. */
async function installation(t: Test) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-url-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const base: Record<string, string> = { PATH: process.env.PATH!, HOME: '/tmp', KAGI_DATA_DIR: dataDir, KAGI_CA_PASSPHRASE: 'cli-test-passphrase-0123456789' }
  if (process.env.DATABASE_URL) base.DATABASE_URL = await freshPostgresUrl(t)
  const kagi = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [bin, ...args], { env: { ...base, ...env }, encoding: 'utf8', timeout: 60_000 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  return { dataDir, kagi }
}

async function crlUrlOf(pem: string): Promise<string | undefined> {
  const x509 = await x509lib()
  const cert = new x509.X509Certificate(pem)
  return cert.getExtension(x509.CRLDistributionPointsExtension)?.distributionPoints[0]?.distributionPoint?.fullName?.[0]?.uniformResourceIdentifier
}

t.test('stored at ca init; the CLI issues with it whatever its PORT; a disagreeing KAGI_PUBLIC_URL is refused; set-public-url moves it, audited', async (t) => {
  const { dataDir, kagi } = await installation(t)
  const init = kagi(['ca', 'init'], { PORT: '8443' })
  t.equal(init.status, 0, init.stderr)
  t.match(kagi(['ca', 'show']).stdout, /public URL: +http:\/\/127\.0\.0\.1:8443 \(stored with the CA/, 'ca show prints the stored URL, without PORT')

  const issued = kagi(['issue', '--profile', 'user', '--user', 'alice@example.com', '--out', join(dataDir, 'alice')])
  t.equal(issued.status, 0, issued.stderr)
  t.equal(await crlUrlOf(readFileSync(join(dataDir, 'alice.crt'), 'utf8')), 'http://127.0.0.1:8443/pki/crl', 'not the CLI\'s own default (port 3000)')

  const refused = kagi(['issue', '--profile', 'user', '--user', 'bob@example.com', '--out', join(dataDir, 'bob')], { KAGI_PUBLIC_URL: 'https://kagi.example.com' })
  t.equal(refused.status, 1)
  t.match(refused.stderr, /KAGI_PUBLIC_URL is https:\/\/kagi\.example\.com, but the CA's public URL is http:\/\/127\.0\.0\.1:8443/, 'both values')
  t.match(refused.stderr, /kagi ca set-public-url https:\/\/kagi\.example\.com/, 'and how to change it')
  t.notOk(kagi(['audit', 'list', '--action', 'certificate.issued']).stdout.includes('bob'), 'nothing issued')
  const serve = kagi(['serve'], { KAGI_PUBLIC_URL: 'https://kagi.example.com', PORT: '0' })
  t.equal(serve.status, 1, 'kagi serve refuses to start too')
  t.match(serve.stderr, /kagi serve: KAGI_PUBLIC_URL is https:\/\/kagi\.example\.com, but the CA's public URL is http:\/\/127\.0\.0\.1:8443/)

  t.equal(kagi(['ca', 'set-public-url', 'kagi.example.com']).status, 2, 'validated as KAGI_PUBLIC_URL is')
  const moved = kagi(['ca', 'set-public-url', 'https://kagi.example.com/'], { KAGI_PUBLIC_URL: 'https://kagi.example.com' })
  t.equal(moved.status, 0, moved.stderr)
  t.match(moved.stdout, /changed from http:\/\/127\.0\.0\.1:8443 to https:\/\/kagi\.example\.com;/)
  t.match(moved.stdout, /keep the URLs they were signed with/)
  t.match(kagi(['audit', 'list', '--action', 'ca.public-url-changed']).stdout, /\bcli +ca\.public-url-changed\b/)
  t.match(kagi(['ca', 'show']).stdout, /public URL: +https:\/\/kagi\.example\.com /)
  const again = kagi(['issue', '--profile', 'user', '--user', 'bob@example.com', '--out', join(dataDir, 'bob')], { KAGI_PUBLIC_URL: 'https://kagi.example.com' })
  t.equal(again.status, 0, again.stderr)
  t.equal(await crlUrlOf(readFileSync(join(dataDir, 'bob.crt'), 'utf8')), 'https://kagi.example.com/pki/crl')
  t.match(kagi(['ca', 'set-public-url', '--help']).stdout, /certificates already issued keep the URLs/, 'the help says so')
})

t.test('a CA from before migration 0018 adopts the URL its certificates name, once, audited', async (t) => {
  const { db } = await testDatabase(t)
  const old = testConfig(t, { KAGI_PUBLIC_URL: 'https://old.example.com' })
  const { ca } = await initCa(db, old, old.caPassphrase!)
  const services = createServices(old, db, ca, { passphrase: old.caPassphrase, exportCrls: false })
  await enroll(services, issueEnrollment({ profile: 'user', user: 'alice@example.com', csr: undefined, keyType: 'ecdsa-p256' }, { label: 'cli', role: 'admin' }))
  // Back to the schema before 0018 and forward again: the CA is as an upgraded database has it.
  const migrator = new Migrator({ db, provider: new FileMigrationProvider({ fs, path, migrationFolder: migrationsDir }) })
  // migrateTo undoes every later migration as well, so this stays right as migrations are added.
  t.notOk((await migrator.migrateTo('0017_create_scep_challenge')).error)
  await migrateToLatest(db)
  t.equal((await loadCa(db, old.caPassphrase!))!.publicUrl, null, 'nothing stored yet')

  const unset = testConfig(t, { KAGI_PUBLIC_URL: '' })
  const first = await resolvePublicUrl(db, unset)
  t.equal(first.config.publicUrl, 'https://old.example.com', 'taken from the certificates, not the process default')
  t.match(first.notes.join('\n'), /adopted https:\/\/old\.example\.com, which the certificate it issued last names/, 'and says so')
  t.same((await resolvePublicUrl(db, unset)).notes, [], 'said once')
  const audit = await db.selectFrom('audit_event').select(['actor', 'details']).where('action', '=', 'ca.public-url-changed').execute()
  t.same(audit.map((a) => [a.actor, a.details]), [['system', { from: null, to: 'https://old.example.com' }]])
  await t.rejects(resolvePublicUrl(db, testConfig(t, { KAGI_PUBLIC_URL: 'https://new.example.com' })), { message: /KAGI_PUBLIC_URL is https:\/\/new\.example\.com, but the CA's public URL is https:\/\/old\.example\.com/ })
})

t.test('a CA whose certificates name no kagi URL adopts the process\'s', async (t) => {
  const { db } = await testDatabase(t)
  const config = testConfig(t, { KAGI_PUBLIC_URL: 'https://kagi.example.com' })
  await initCa(db, config, config.caPassphrase!)
  await db.updateTable('ca_certificate').set({ public_url: null, der: (await db.selectFrom('ca_certificate').select('der').where('role', '=', 'root').executeTakeFirstOrThrow()).der }).where('role', '=', 'issuing').execute()
  const { config: resolved, notes } = await resolvePublicUrl(db, config)
  t.equal(resolved.publicUrl, 'https://kagi.example.com')
  t.match(notes.join('\n'), /adopted https:\/\/kagi\.example\.com, this process's public URL/)
})

t.test('a loopback public URL is warned about outside development only', async (t) => {
  const { db } = await testDatabase(t)
  const loopback = { KAGI_PUBLIC_URL: 'http://127.0.0.1:3000' }
  t.same((await resolvePublicUrl(db, testConfig(t, loopback))).notes, [], 'development: loopback host, not production')
  t.match((await resolvePublicUrl(db, testConfig(t, { ...loopback, NODE_ENV: 'production' }))).notes.join('\n'), /http:\/\/127\.0\.0\.1:3000 is a loopback address/)
  t.match((await resolvePublicUrl(db, testConfig(t, { ...loopback, HOST: '0.0.0.0' }))).notes.join('\n'), /loopback address.*set KAGI_PUBLIC_URL before the CA is created/)
  t.same((await resolvePublicUrl(db, testConfig(t, { KAGI_PUBLIC_URL: 'https://kagi.example.com', NODE_ENV: 'production' }))).notes, [])
})
