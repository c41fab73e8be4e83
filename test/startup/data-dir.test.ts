/**
 * The data directory is kagi's alone (issue 11): an existing 0755 directory
 * with 0644 files is made 0700 / 0600 at start, with a warning naming the
 * path and the old mode; symbolic links are neither followed nor changed.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.js'
import { restrictUmask, secureDataDir } from '../../src/startup/data-dir.js'
import { openRuntime, runtimeServices } from '../../src/startup/runtime.js'
import { freshPostgresUrl } from '../helper.js'

const mode = (path: string): string => (lstatSync(path).mode & 0o777).toString(8)

/** A temporary directory (removed at teardown) laid out as a careless `mkdir data` under umask 022 leaves it. */
function looseDataDir(t: { teardown: (fn: () => void) => void }): { root: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), 'kagi-datadir-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const dir = join(root, 'data')
  mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true })
  for (const d of [dir, join(dir, 'sub'), join(dir, 'sub', 'deeper')]) chmodSync(d, 0o755)
  writeFileSync(join(dir, 'ca-passphrase'), 'correct-horse-battery-staple-0123\n', { mode: 0o644 })
  writeFileSync(join(dir, 'sub', 'a.crl'), 'x', { mode: 0o666 })
  writeFileSync(join(dir, 'sub', 'deeper', 'b'), 'x', { mode: 0o640 })
  writeFileSync(join(dir, 'private-already'), 'x', { mode: 0o400 })
  return { root, dir }
}

t.test('secureDataDir: 0755 directory, 0644/0666 files and subdirectories become 0700 / 0600, with one warning', async (t) => {
  const { root, dir } = looseDataDir(t)
  // Links out of the directory: neither they nor what they point at may change.
  const outsideFile = join(root, 'outside-file')
  const outsideDir = join(root, 'outside-dir')
  writeFileSync(outsideFile, 'x', { mode: 0o644 })
  mkdirSync(outsideDir, { mode: 0o755 })
  chmodSync(outsideDir, 0o755)
  writeFileSync(join(outsideDir, 'inner'), 'x', { mode: 0o644 })
  symlinkSync(outsideFile, join(dir, 'link-to-file'))
  symlinkSync(outsideDir, join(dir, 'sub', 'link-to-dir'))

  const warnings = secureDataDir(dir)
  t.equal(mode(dir), '700', 'the data directory is 0700')
  t.equal(mode(join(dir, 'sub')), '700', 'a subdirectory is 0700')
  t.equal(mode(join(dir, 'sub', 'deeper')), '700', 'a nested subdirectory is 0700')
  t.equal(mode(join(dir, 'ca-passphrase')), '600', 'a 0644 file is 0600')
  t.equal(mode(join(dir, 'sub', 'a.crl')), '600', 'a 0666 file is 0600')
  t.equal(mode(join(dir, 'sub', 'deeper', 'b')), '600', 'a 0640 file is 0600')
  t.equal(mode(join(dir, 'private-already')), '400', 'a file with no group or other bits is left alone')
  t.equal(mode(outsideFile), '644', 'a linked file outside is untouched')
  t.equal(mode(outsideDir), '755', 'a linked directory outside is untouched')
  t.equal(mode(join(outsideDir, 'inner')), '644', 'and not walked into')
  t.equal(warnings.length, 1, 'one warning')
  t.match(warnings[0], { path: dir, mode: '755' })
  t.match(warnings[0]!.message, `the data directory ${dir} was accessible to other users (mode 755); changed it to 0700, and 5 files and directories below it`)
  t.same(secureDataDir(dir), [], 'a second start finds nothing to change and says nothing')
})

t.test('secureDataDir: entries below a 0700 directory are tightened without a warning (they were not reachable)', async (t) => {
  const { dir } = looseDataDir(t)
  chmodSync(dir, 0o700)
  t.same(secureDataDir(dir), [])
  t.equal(mode(join(dir, 'sub', 'a.crl')), '600')
  t.equal(mode(join(dir, 'sub')), '700')
})

t.test('secureDataDir: a missing directory is left to its creators; a file is refused', async (t) => {
  const { root } = looseDataDir(t)
  t.same(secureDataDir(join(root, 'absent')), [])
  t.notOk(existsSync(join(root, 'absent')), 'not created')
  writeFileSync(join(root, 'plain'), 'x')
  const refused = t.throws(() => secureDataDir(join(root, 'plain')), { message: /KAGI_DATA_DIR: .*plain is not a directory/ })
  t.ok(refused instanceof ConfigError, 'a ConfigError, which the CLI prints without a stack trace')
})

t.test('start-up: openRuntime makes an existing 0755 data directory private before the passphrase, database and CRL export use it', async (t) => {
  const { dir } = looseDataDir(t)
  rmSync(join(dir, 'ca-passphrase')) // generated at start: outside production, no passphrase configured
  restrictUmask() // as the CLI entry point (src/cli/main.ts) does for serve and every command
  const env: Record<string, string> = { KAGI_DATA_DIR: dir, KAGI_PUBLIC_URL: 'http://kagi.test', KAGI_LOG_LEVEL: 'silent' }
  if (process.env.DATABASE_URL) env.DATABASE_URL = await freshPostgresUrl(t)
  const runtime = await openRuntime(loadConfig(env), 'data-dir test')
  t.teardown(() => runtime.database.close())
  t.equal(runtime.dataDirWarnings.length, 1)
  t.match(runtime.dataDirWarnings[0], { path: dir, mode: '755', message: /was accessible to other users \(mode 755\); changed it to 0700/ })
  t.equal(mode(dir), '700')
  t.equal(mode(join(dir, 'sub', 'a.crl')), '600')
  t.equal(runtime.passphrase.source, 'generated')
  t.equal(mode(join(dir, 'ca-passphrase')), '600', 'the generated passphrase is 0600')
  const log = { info: () => {}, warn: () => {}, error: () => {} }
  const services = (await runtimeServices(runtime, { log }))!
  await services.start()
  t.teardown(() => services.stop())
  const crlDir = join(dir, 'crl')
  t.equal(mode(crlDir), '700', 'the CRL export directory is 0700')
  const crls = readdirSync(crlDir)
  t.ok(crls.length > 0, 'a CRL was exported')
  for (const name of crls) t.equal(mode(join(crlDir, name)), '600', `CRL export ${name} is 0600 (umask 077)`)
  if (!process.env.DATABASE_URL) {
    t.equal(mode(join(dir, 'db')), '700', 'the embedded database directory is 0700')
    t.equal(mode(join(dir, 'db.lock')), '600', 'the lock file is 0600')
    t.notOk(statSync(dir).mode & 0o077, 'nobody else can reach the embedded database')
  }
})

t.test('kagi (the CLI entry point): warns on stderr naming the directory and its old mode, and fixes it', async (t) => {
  const { dir } = looseDataDir(t)
  const env: Record<string, string> = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', KAGI_DATA_DIR: dir, KAGI_CA_PASSPHRASE: 'cli-test-passphrase-0123456789' }
  if (process.env.DATABASE_URL) env.DATABASE_URL = await freshPostgresUrl(t)
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'kagi.js')
  const r = spawnSync(process.execPath, [bin, 'migrate'], { env, encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stderr, `warning: the data directory ${dir} was accessible to other users (mode 755); changed it to 0700`)
  t.equal(mode(dir), '700')
  t.equal(mode(join(dir, 'ca-passphrase')), '600')
  if (!process.env.DATABASE_URL) t.equal(mode(join(dir, 'db')), '700', 'the database directory PGlite created is 0700 (umask 077)')
  const again = spawnSync(process.execPath, [bin, 'migrate'], { env, encoding: 'utf8', timeout: 60_000 })
  t.equal(again.status, 0, again.stderr)
  t.notMatch(again.stderr, /data directory/, 'the next start has nothing to say')
})
