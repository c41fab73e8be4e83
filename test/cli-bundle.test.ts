import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { freshPostgresUrl } from './helper.js'
import { run } from './support/openssl.js'

const bin = join(import.meta.dirname, '..', 'bin', 'kagi.js')

t.test('kagi bundle writes the platform file; bad input is a usage error', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-cli-bundle-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env: Record<string, string> = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', KAGI_DATA_DIR: dataDir, KAGI_CA_PASSPHRASE: 'cli-test-passphrase-0123456789', KAGI_GP_PORTAL: 'vpn.example.com' }
  if (process.env.DATABASE_URL) env.DATABASE_URL = await freshPostgresUrl(t)
  const kagi = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8', timeout: 120_000 })

  t.equal(kagi('ca', 'init').status, 0)
  const onc = join(dataDir, 'alice.onc')
  const r = kagi('bundle', '--user', 'alice@example.com', '--platform', 'chromeos', '--device-name', 'Chromebook', '--out', onc)
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /wrote .*alice\.onc/)
  t.match(r.stderr, /and a ChromeOS bundle for/)
  t.equal(statSync(onc).mode & 0o777, 0o600, 'mode 0600: it holds a private key')
  const parsed = JSON.parse(readFileSync(onc, 'utf8'))
  t.equal(parsed.Type, 'UnencryptedConfiguration')
  const client = parsed.Certificates.find((c: { Type: string }) => c.Type === 'Client')
  const p12 = join(dataDir, 'c.p12')
  require0(run('openssl', ['base64', '-d', '-A', '-out', p12], client.PKCS12))
  const info = run('openssl', ['pkcs12', '-info', '-in', p12, '-passin', 'pass:', '-nokeys'])
  t.equal(info.status, 0, info.stderr)
  t.match(info.stdout + info.stderr, /MAC: sha1/)

  const ps1 = join(dataDir, 'pc.ps1')
  const w = kagi('bundle', '--user', 'bob@example.com', '--platform', 'windows', '--device', 'SN-123', '--profile', 'device', '--hostname', 'pc-123.corp.example.com', '--out', ps1)
  t.equal(w.status, 0, w.stderr)
  t.match(readFileSync(ps1, 'utf8'), /Cert:\\LocalMachine\\My/)
  const again = kagi('bundle', '--user', 'bob@example.com', '--platform', 'windows', '--device', 'SN-123', '--profile', 'device', '--hostname', 'pc-123.corp.example.com', '--out', ps1)
  t.not(again.status, 0, 'a current certificate is not replaced without --renew')
  t.match(again.stderr, /renew/)
  const renewed = kagi('bundle', '--user', 'bob@example.com', '--platform', 'windows', '--device', 'SN-123', '--profile', 'device', '--hostname', 'pc-123.corp.example.com', '--renew', '--out', ps1)
  t.equal(renewed.status, 0, renewed.stderr)
  t.match(renewed.stdout, /revoked as superseded/)

  const bad = kagi('bundle', '--user', 'alice@example.com', '--platform', 'beos', '--device-name', 'x', '--out', join(dataDir, 'x'))
  t.equal(bad.status, 2)
  t.match(bad.stderr, /--platform must be one of/)
  const noDevice = kagi('bundle', '--user', 'alice@example.com', '--platform', 'ios', '--out', join(dataDir, 'x'))
  t.equal(noDevice.status, 2)
  t.match(noDevice.stderr, /--device/)
})

function require0(r: { status: number | null; stderr: string }): void {
  if (r.status !== 0) throw new Error(r.stderr)
}
