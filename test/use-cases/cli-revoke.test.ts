import 'reflect-metadata'
import { join } from 'node:path'
import t from 'tap'
import { assertCliRefused, cliInstallation } from './support.js'

/** `kagi revoke --device` and `kagi revoke --user`: offboarding from the command line (run `npm run build` first). */
t.test('kagi revoke --device / --user', async (t) => {
  const cli = await cliInstallation(t)
  const out = (name: string) => join(cli.dataDir, name)
  const issue = (...args: string[]) => {
    const r = cli.kagi('issue', '--key-type', 'ecdsa-p256', ...args)
    t.equal(r.status, 0, r.stderr)
  }
  issue('--profile', 'device', '--user', 'alice@example.com', '--device-name', 'Alice Mac', '--platform', 'macos', '--hostname', 'alice-mac.corp.example.com', '--serial-number', 'C02CLI', '--out', out('mac'))
  issue('--profile', 'user', '--user', 'alice@example.com', '--device-name', 'Alice Mac', '--platform', 'macos', '--serial-number', 'C02CLI', '--out', out('mac-user'))
  issue('--profile', 'user', '--user', 'alice@example.com', '--out', out('alice'))
  issue('--profile', 'user', '--user', 'bob@example.com', '--out', out('bob'))
  const serials = await cli.withDb(async (db) => {
    const rows = await db.selectFrom('certificate').innerJoin('app_user', 'app_user.id', 'certificate.user_id').select(['serial', 'email', 'device_id']).execute()
    return { mac: rows.filter((r) => r.device_id).map((r) => r.serial).sort(), alice: rows.find((r) => r.email === 'alice@example.com' && !r.device_id)!.serial, bob: rows.find((r) => r.email === 'bob@example.com')!.serial }
  })
  t.equal(serials.mac.length, 2, 'the device holds a device and a user certificate')

  const device = cli.kagi('revoke', '--device', 'C02CLI')
  t.equal(device.status, 0, device.stderr)
  const lines = device.stdout.trim().split('\n')
  t.same(lines.slice(0, -1).sort(), serials.mac, 'each revoked serial, one a line')
  t.match(lines.at(-1), /^revoked 2 certificates of device C02CLI \(keyCompromise\); CRL re-signed$/)
  const again = cli.kagi('revoke', '--device', 'C02CLI', '--reason', 'superseded')
  t.equal(again.status, 0, again.stderr)
  t.match(again.stdout, /^revoked 0 certificates of device C02CLI \(superseded\)\n$/)

  const user = cli.kagi('revoke', '--user', 'Alice@Example.com')
  t.equal(user.status, 0, user.stderr)
  t.match(user.stdout, new RegExp(`^${serials.alice}\\nrevoked 1 certificate of alice@example.com \\(their sessions ended\\) \\(affiliationChanged\\)`))

  const states = await cli.withDb((db) => db.selectFrom('certificate').select(['serial', 'status', 'revocation_reason']).execute())
  const bySerial = Object.fromEntries(states.map((s) => [s.serial, s]))
  for (const s of serials.mac) t.match(bySerial[s], { status: 'revoked', revocation_reason: 'keyCompromise' })
  t.match(bySerial[serials.alice], { status: 'revoked', revocation_reason: 'affiliationChanged' })
  t.match(bySerial[serials.bob], { status: 'active' }, "bob's certificate is untouched")
  const audit = await cli.withDb((db) => db.selectFrom('audit_event').select(['actor', 'action']).where('action', 'in', ['device.revoked', 'user.revoked', 'session.ended']).execute())
  t.same(audit.map((a) => `${a.actor} ${a.action}`).sort(), ['cli device.revoked', 'cli device.revoked', 'cli session.ended', 'cli user.revoked'])

  assertCliRefused(t, cli.kagi('revoke', '--device', 'NO-SUCH-SN'), /no device with id or serial number NO-SUCH-SN/, 'unknown device')
  assertCliRefused(t, cli.kagi('revoke', '--user', 'nobody@example.com'), /no user nobody@example.com/, 'unknown user')
  assertCliRefused(t, cli.kagi('revoke', '--user', 'not-an-email'), /--user must be an ASCII email/, 'bad email')
  assertCliRefused(t, cli.kagi('revoke', '--device', 'C02CLI', '--reason', 'lost'), /reason must be one of/, 'bad reason')
  assertCliRefused(t, cli.kagi('revoke', serials.bob, '--user', 'bob@example.com'), /give one of/, 'a serial and --user')
  assertCliRefused(t, cli.kagi('revoke'), /give one of/, 'nothing to revoke')
  t.equal(cli.kagi('revoke', '--user', 'nobody@example.com').status, 1, 'not found: exit 1')
  t.equal(cli.kagi('revoke', '--user', 'x').status, 2, 'usage: exit 2')
})
