// `kagi panos push --scep`: the SCEP profile and the portal agent configuration that delivers it.
// The xpath and element names are UNCONFIRMED (see src/panos/desired-state.ts); the double follows the same guess.
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ConfigError } from '../../src/config.js'
import { loadPanosConfig, type PanosConfig } from '../../src/panos/config.js'
import { certificateName } from '../../src/panos/names.js'
import { findPath, parseXml, textOf, type XmlElement } from '../../src/panos/xml.js'
import { tempDir } from '../support/openssl.js'
import { defaultFirewallConfig } from './fake-config.js'
import { startFakePanos, type FakePanos } from './fake-panos.js'
import { configFor, push, runKagi, testSource } from './helpers.js'

const source = await testSource()
const rootName = certificateName(source.rootPem)
const TOKEN = `kagi_${'S'.repeat(20)}cepT0ken${'x'.repeat(15)}`
const SCEP = "/config/shared/scep/entry[@name='kagi-devices-scep']"
const PORTAL = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']/global-protect/global-protect-portal/entry[@name='gp-portal']"
const AGENT = `${PORTAL}/client-config/configs/entry[@name='gp-agent']`

async function fakeFor(t: Test, options: Parameters<typeof startFakePanos>[0] = {}): Promise<{ fake: FakePanos; key: string }> {
  const fake = await startFakePanos(options)
  t.teardown(() => fake.close())
  return { fake, key: fake.issueKey('kagi-api') }
}

const scepConfig = (fake: FakePanos, key: string, scep: Partial<NonNullable<PanosConfig['scep']>> = {}): PanosConfig =>
  configFor(fake, key, { scep: { token: TOKEN, portalConfig: 'gp-agent', username: 'kagi', ...scep } })

const text = (node: XmlElement | undefined, path: string) => textOf(findPath(node, path)).trim()

/** The requests after the first `before`, as `type/action` (reads left out). */
const writesSince = (fake: FakePanos, before: number) => fake.writes().filter((q) => fake.requests.indexOf(q) >= before).map((q) => `${q.params.type}/${q.params.action}`)

/** A firewall whose configuration already holds what the first push wrote, committed. */
async function pushedOnce(t: Test) {
  const { fake, key } = await fakeFor(t)
  const first = await push(source, scepConfig(fake, key))
  t.notOk(first.error, first.error?.message ?? 'first push')
  return { fake, key }
}

t.test('ok/dry run shows the SCEP profile and the portal change, with <secret> and without the token', async (t) => {
  const { fake, key } = await fakeFor(t)
  const r = await push(source, scepConfig(fake, key), true)
  t.notOk(r.error, r.error?.message ?? 'no error')
  const out = r.out.join('\n')
  t.match(out, /\+ scep kagi-devices-scep: create with scep-url https:\/\/kagi\.example\.com\/scep, ca-identity-name kagi, subject CN=\$USERNAME, digest sha256, algorithm\/rsa\/rsa-nbits 2048, /)
  t.match(out, new RegExp(`scep-ca-cert ${rootName}, use-as-digital-signature yes, use-for-key-encipherment yes, `))
  t.match(out, /scep-challenge dynamic \(otp-server-url "https:\/\/kagi\.example\.com\/certsrv\/mscep_admin\/", username "kagi", password <secret>\)/)
  t.match(out, /~ portal gp-portal agent config gp-agent: client-certificate \(unset\) → scep "kagi-devices-scep"/)
  t.equal(r.report!.changes.length, 7, 'two imports, the profile, the SCEP profile, portal, gateway, delivery')
  t.same(fake.writes(), [], 'nothing written')
  t.notOk(r.all.includes(TOKEN), 'the token is not printed')
})

t.test('ok/push creates the SCEP profile and points the agent configuration at it', async (t) => {
  const { fake, key } = await fakeFor(t)
  fake.config.referenceCheck = 'write'
  const r = await push(source, scepConfig(fake, key))
  t.notOk(r.error, r.error?.message ?? 'no error')
  t.ok(r.report!.commit, 'committed')
  const scep = fake.running(SCEP)[0]
  t.ok(scep, 'the SCEP profile is running')
  for (const [path, value] of [
    ['scep-url', 'https://kagi.example.com/scep'],
    ['ca-identity-name', 'kagi'],
    ['subject', 'CN=$USERNAME'],
    ['digest', 'sha256'],
    ['algorithm/rsa/rsa-nbits', '2048'],
    ['scep-ca-cert', rootName],
    ['use-as-digital-signature', 'yes'],
    ['use-for-key-encipherment', 'yes'],
    ['scep-challenge/dynamic/otp-server-url', 'https://kagi.example.com/certsrv/mscep_admin/'],
    ['scep-challenge/dynamic/username', 'kagi'],
  ] as const) t.equal(text(scep, path), value, path)
  const stored = text(scep, 'scep-challenge/dynamic/password')
  t.match(stored, /^-AQ==/, 'the firewall holds the password encrypted')
  t.not(stored, TOKEN)
  t.equal(text(fake.running(AGENT)[0], 'client-certificate/scep'), 'kagi-devices-scep')
  const sent = fake.requests.find((q) => q.params.xpath === '/config/shared/scep')
  t.ok(sent?.params.element?.includes(`<password>${TOKEN}</password>`), 'the token was sent once, in the body')
  t.ok(fake.requests.every((q) => !q.url.includes(TOKEN)), 'never in a URL')
  t.notOk(r.all.includes(TOKEN), 'never printed')
})

t.test('ok/a second push with the same state changes nothing', async (t) => {
  const { fake, key } = await pushedOnce(t)
  const before = fake.requests.length
  const r = await push(source, scepConfig(fake, key))
  t.notOk(r.error, r.error?.message ?? 'no error')
  t.same(r.report!.changes, [])
  t.same(r.report!.uncommitted, [])
  t.match(r.out.join('\n'), /nothing to do/)
  t.same(writesSince(fake, before), [], 'only reads: the password is not written again')
})

t.test('ok/--rotate-scep-token writes only the password, and the next push nothing', async (t) => {
  const { fake, key } = await pushedOnce(t)
  const old = text(fake.running(SCEP)[0], 'scep-challenge/dynamic/password')
  const rotated = `kagi_${'R'.repeat(43)}`
  const before = fake.requests.length
  const r = await push(source, scepConfig(fake, key, { token: rotated }), false, true)
  t.notOk(r.error, r.error?.message ?? 'no error')
  t.same(r.report!.applied.map((c) => c.summary), ['scep kagi-devices-scep: scep-challenge password → <secret> (--rotate-scep-token)'])
  t.same(writesSince(fake, before), ['config/edit', 'commit/partial'])
  t.not(text(fake.running(SCEP)[0], 'scep-challenge/dynamic/password'), old, 'a new password is running')
  t.notOk(r.all.includes(rotated))
  const again = await push(source, scepConfig(fake, key, { token: rotated }))
  t.same(again.report!.changes, [], 'without the flag: nothing')
})

t.test('ok/a changed SCEP URL writes it and the password; unmanaged settings stay', async (t) => {
  const { fake, key } = await pushedOnce(t)
  const seed = await fetch(`${fake.url}/api/`, {
    method: 'POST',
    headers: { 'x-pan-key': key, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ type: 'config', action: 'set', xpath: SCEP, element: '<fingerprint>AB:CD</fingerprint>' }),
  })
  t.match(await seed.text(), /code="20"/)
  const moved = { ...source, scepUrl: 'https://pki.example.net/scep' }
  const r = await push(moved, scepConfig(fake, key))
  t.notOk(r.error, r.error?.message ?? 'no error')
  t.same(r.report!.applied.map((c) => c.summary), [
    'scep kagi-devices-scep: scep-url "https://kagi.example.com/scep" → "https://pki.example.net/scep"',
    'scep kagi-devices-scep: scep-challenge password <secret> written again with the changed settings (PAN-OS keeps it encrypted, so kagi cannot compare it)',
  ])
  const scep = fake.running(SCEP)[0]
  t.equal(text(scep, 'scep-url'), moved.scepUrl)
  t.equal(text(scep, 'fingerprint'), 'AB:CD', 'a setting kagi does not manage stays')
  t.equal(text(scep, 'scep-challenge/dynamic/username'), 'kagi')
})

t.test('ok/choices are replaced, not merged: fixed challenge, other key type, locally delivered certificate', async (t) => {
  const initial = defaultFirewallConfig()
  findPath(initial, 'shared')!.children.push(
    parseXml(
      '<scep><entry name="kagi-devices-scep"><scep-challenge><fixed>-AQ==old</fixed></scep-challenge><scep-url>https://kagi.example.com/scep</scep-url>' +
        '<algorithm><rsa><rsa-nbits>1024</rsa-nbits></rsa></algorithm></entry></scep>',
    ),
  )
  const agent = findPath(initial, 'devices/entry/vsys/entry/global-protect/global-protect-portal/entry/client-config/configs/entry')!
  agent.children.push(parseXml('<client-certificate><local>old-cert</local></client-certificate>'))
  const { fake, key } = await fakeFor(t, { config: initial })
  const r = await push(source, scepConfig(fake, key))
  t.notOk(r.error, r.error?.message ?? 'no error')
  const out = r.out.join('\n')
  t.match(out, /scep-challenge fixed → dynamic \(otp-server-url .*password <secret>\)/)
  t.match(out, /algorithm\/rsa\/rsa-nbits "1024" → "2048"/)
  t.match(out, /client-certificate local "old-cert" → scep "kagi-devices-scep"/)
  const scep = fake.running(SCEP)[0]
  t.same(findPath(scep, 'scep-challenge')!.children.map((c) => (c as XmlElement).name), ['dynamic'])
  t.equal(text(scep, 'algorithm/rsa/rsa-nbits'), '2048')
  t.same(findPath(fake.running(AGENT)[0], 'client-certificate')!.children.map((c) => (c as XmlElement).name), ['scep'])
  t.same((await push(source, scepConfig(fake, key))).report!.changes, [], 'and then nothing')
})

t.test('fail/an agent configuration the portal does not have', async (t) => {
  const { fake, key } = await fakeFor(t)
  const r = await push(source, scepConfig(fake, key, { portalConfig: 'no-such-config' }))
  t.equal(r.error?.kind, 'not_found')
  t.match(r.error?.message, /portal "gp-portal" has no agent configuration "no-such-config" \(KAGI_PANOS_PORTAL_CONFIG; it has "gp-agent"\)\. Nothing was written\./)
  t.same(fake.writes(), [])
})

t.test('fail/a refused write that echoes the token shows it redacted', async (t) => {
  const { fake, key } = await fakeFor(t)
  fake.failNext((q) => q.params.xpath === '/config/shared/scep', 12, [` scep -> kagi-devices-scep -> password '${TOKEN}' is invalid`])
  const r = await push(source, scepConfig(fake, key))
  t.equal(r.error?.kind, 'rejected')
  t.match(r.error?.message, /password '\[redacted\]' is invalid/)
  t.match(r.error?.message, /NOT committed/)
  t.notOk(r.all.includes(TOKEN))
})

const base = { KAGI_PANOS_URL: 'https://fw.example.com', KAGI_PANOS_API_KEY: 'LUFRPT1-key', KAGI_PANOS_PORTAL: 'gp-portal' }
for (const [name, env, message] of [
  ['no token', { ...base, KAGI_PANOS_PORTAL_CONFIG: 'gp-agent' }, /KAGI_PANOS_SCEP_TOKEN: required with --scep/],
  ['no agent config', { ...base, KAGI_PANOS_SCEP_TOKEN: TOKEN }, /KAGI_PANOS_PORTAL_CONFIG: required with --scep, the name of the portal's agent configuration/],
  ['no portal', { ...base, KAGI_PANOS_PORTAL: '', KAGI_PANOS_PORTAL_CONFIG: 'gp-agent', KAGI_PANOS_SCEP_TOKEN: TOKEN }, /KAGI_PANOS_PORTAL: required with --scep/],
  ['not a kagi token', { ...base, KAGI_PANOS_PORTAL_CONFIG: 'gp-agent', KAGI_PANOS_SCEP_TOKEN: 'hunter2-not-a-token' }, /KAGI_PANOS_SCEP_TOKEN: must be a kagi API token/],
  ['agent config with a quote', { ...base, KAGI_PANOS_PORTAL_CONFIG: "it's", KAGI_PANOS_SCEP_TOKEN: TOKEN }, /KAGI_PANOS_PORTAL_CONFIG: must not contain quotes/],
] as const) {
  t.test(`fail/config: ${name}`, async (t) => {
    const error = (() => {
      try {
        loadPanosConfig(env, { scep: true })
      } catch (e) {
        return e
      }
    })()
    t.ok(error instanceof ConfigError, 'a ConfigError, before any request')
    t.match((error as Error).message, message)
    t.notOk((error as Error).message.includes(TOKEN) || (error as Error).message.includes('hunter2'), 'no secret in the message')
  })
}

t.test('ok/config: --scep variables are read only with --scep', async (t) => {
  const env = { ...base, KAGI_PANOS_PORTAL_CONFIG: 'gp-agent', KAGI_PANOS_SCEP_TOKEN: TOKEN }
  t.same(loadPanosConfig(env, { scep: true }).config.scep, { token: TOKEN, portalConfig: 'gp-agent', username: 'kagi' })
  t.equal(loadPanosConfig(env).config.scep, undefined)
})

const sys = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp' }

const kagi = runKagi

t.test('cli/kagi panos push --scep', async (t) => {
  const { fake, key } = await fakeFor(t)
  const env = {
    ...sys,
    KAGI_DATA_DIR: tempDir(t).dir,
    KAGI_CA_PASSPHRASE: 'panos-scep-cli-test-passphrase-0123',
    KAGI_PUBLIC_URL: 'https://kagi.example.com',
    KAGI_PANOS_URL: fake.url,
    KAGI_PANOS_API_KEY: key,
    KAGI_PANOS_PORTAL: 'gp-portal',
    KAGI_PANOS_PORTAL_CONFIG: 'gp-agent',
  }
  t.equal((await kagi(['ca', 'init'], env)).status, 0)
  const created = await kagi(['token', 'create', '--role', 'mdm', '--name', 'panos-scep'], env)
  t.equal(created.status, 0, created.stderr)
  const token = created.stdout.trim().split('\n').pop()!

  const missing = await kagi(['panos', 'push', '--scep'], env)
  t.equal(missing.status, 1)
  t.match(missing.stderr, /KAGI_PANOS_SCEP_TOKEN: required with --scep/)
  const stale = await kagi(['panos', 'push', '--scep'], { ...env, KAGI_PANOS_SCEP_TOKEN: `kagi_${'Z'.repeat(43)}` })
  t.equal(stale.status, 1)
  t.match(stale.stderr, /KAGI_PANOS_SCEP_TOKEN is not a live token of this kagi/)
  t.same(fake.requests, [], 'the firewall was not contacted')

  const withToken = { ...env, KAGI_PANOS_SCEP_TOKEN: token }
  const dry = await kagi(['panos', 'push', '--scep', '--dry-run'], withToken)
  t.equal(dry.status, 0, dry.stderr)
  t.match(dry.stdout, /\+ scep kagi-devices-scep: create with scep-url https:\/\/kagi\.example\.com\/scep/)
  t.match(dry.stdout, /password <secret>/)
  t.same(fake.writes(), [])
  const real = await kagi(['panos', 'push', '--scep'], withToken)
  t.equal(real.status, 0, real.stderr)
  t.match(real.stdout, /committed \(job \d+\)/)
  const again = await kagi(['panos', 'push', '--scep'], withToken)
  t.match(again.stdout, /nothing to do/)
  for (const r of [missing, stale, dry, real, again]) t.notOk(`${r.stdout}${r.stderr}`.includes(token), 'the token is never printed')
})
