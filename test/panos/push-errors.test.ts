import { inspect } from 'node:util'
import t, { type Test } from 'tap'
import { PanosClient } from '../../src/panos/client.js'
import { PanosError } from '../../src/panos/errors.js'
import { tempDir } from '../support/openssl.js'
import { startFakePanos, type FakePanos } from './fake-panos.js'
import { configFor, push, selfSignedTls, testSource, type Outcome } from './helpers.js'

const source = await testSource()
const PROFILE = "/config/shared/certificate-profile/entry[@name='kagi-devices']"

async function fakeFor(t: Test, options: Parameters<typeof startFakePanos>[0] = {}): Promise<{ fake: FakePanos; key: string }> {
  const fake = await startFakePanos(options)
  t.teardown(() => fake.close())
  return { fake, key: fake.issueKey('kagi-api') }
}

/** The push failed with `kind`, printed no secret, and its message matches every pattern. */
function failed(t: Test, r: Outcome, kind: string, patterns: RegExp[], secrets: string[]): void {
  t.ok(r.error instanceof PanosError, `fails with a PanosError (${r.error?.message ?? 'it succeeded'})`)
  t.equal(r.error?.kind, kind)
  for (const p of patterns) t.match(r.error?.message, p)
  for (const s of secrets) t.notOk(r.all.includes(s), 'no secret in any output or message')
}

t.test('fail/bad API key: refused before anything is written', async (t) => {
  const { fake } = await fakeFor(t)
  const r = await push(source, configFor(fake, 'LUFRPT1-wrong-key-0123456789'))
  failed(t, r, 'auth', [/refused the API key \(Invalid Credential\)/, /KAGI_PANOS_API_KEY/, /Nothing was written|^the firewall/], ['LUFRPT1-wrong-key-0123456789'])
  t.same(fake.writes(), [])
})

t.test('fail/expired API key', async (t) => {
  const { fake, key } = await fakeFor(t)
  fake.expireKey(key)
  failed(t, await push(source, configFor(fake, key)), 'auth', [/API Key is expired/, /may be wrong or expired/], [key])
})

t.test('fail/wrong password for keygen', async (t) => {
  const { fake } = await fakeFor(t)
  const r = await push(source, configFor(fake, '', { auth: { user: 'kagi-api', password: 'not-the-password' } }))
  failed(t, r, 'auth', [/user name or password/, /KAGI_PANOS_USER and KAGI_PANOS_PASSWORD/], ['not-the-password'])
})

t.test('fail/invalid object: says what is in the candidate and how to revert', async (t) => {
  const { fake, key } = await fakeFor(t)
  fake.failNext((q) => q.params.action === 'set' && (q.params.xpath ?? '').endsWith('/certificate-profile'), 12, [' certificate-profile -> kagi-devices -> use-ocsp is invalid'])
  const r = await push(source, configFor(fake, key))
  failed(t, r, 'rejected', [
    /invalid object \(code 12\): certificate-profile -> kagi-devices -> use-ocsp is invalid/,
    /written to the candidate configuration and are NOT committed/,
    /\+ certificate kagi-root-ca-/,
    /revert config partial admin \[ kagi-api \]/,
  ], [key])
  t.equal(r.error?.code, 12)
  t.equal(fake.config.pending.length, 2, 'the two imports wait in the candidate')
  t.same(fake.writes().filter((q) => q.params.type === 'commit'), [], 'no commit')
})

t.test('fail/a name over 63 characters', async (t) => {
  const { fake, key } = await fakeFor(t)
  const r = await push(source, configFor(fake, key, { certProfile: 'p'.repeat(64) }))
  failed(t, r, 'invalid_input', [/at most 63 characters/, /has 64/], [key])
  t.same(fake.requests, [], 'refused before any request')
  // The double refuses it too, with PAN-OS's code 12 message (reference §1.3).
  const client = await PanosClient.connect(configFor(fake, key))
  t.notOk(inspect(client, { depth: 5 }).includes(key), 'inspecting the client does not show the key')
  const e = await client.set('/config/shared/certificate-profile', `<entry name="${'p'.repeat(64)}"><use-crl>yes</use-crl></entry>`).catch((x: unknown) => x)
  t.ok(e instanceof PanosError && e.kind === 'rejected' && e.code === 12)
  t.match((e as Error).message, /can be at most 63 characters, but current length: 64/)
})

t.test('fail/portal that does not exist', async (t) => {
  const { fake, key } = await fakeFor(t)
  failed(t, await push(source, configFor(fake, key, { portal: 'no-such-portal' })), 'not_found', [/portal "no-such-portal" does not exist in vsys1/, /KAGI_PANOS_PORTAL/], [key])
  t.same(fake.writes(), [])
})

t.test('fail/commit FAIL reports the firewall\'s messages and what stays in the candidate', async (t) => {
  const { fake, key } = await fakeFor(t)
  fake.failCommit(['Validation Error:', 'global-protect-portal -> gp-portal is invalid', 'Commit failed'])
  const r = await push(source, configFor(fake, key))
  failed(t, r, 'commit_failed', [
    /the commit failed \(job 1, FAIL\): Validation Error: \/ global-protect-portal -> gp-portal is invalid \/ Commit failed/,
    /NOT committed \(the running configuration is unchanged\)/,
    /~ gateway gp-gateway: certificate-profile/,
    /Config > Revert Changes, changes by kagi-api/,
  ], [key])
  t.same(r.error?.lines, ['Validation Error:', 'global-protect-portal -> gp-portal is invalid', 'Commit failed'])
  t.same(fake.running(PROFILE), [], 'running unchanged')
  t.equal(fake.candidate(PROFILE).length, 1, 'candidate holds the profile')
})

t.test('fail/unreachable host', async (t) => {
  const fake = await startFakePanos()
  const key = fake.issueKey('kagi-api')
  await fake.close()
  failed(t, await push(source, configFor(fake, key)), 'unreachable', [/cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/], [key])
})

t.test('fail/a host that accepts and drops the connection', async (t) => {
  const { fake, key } = await fakeFor(t)
  fake.hangup = true
  failed(t, await push(source, configFor(fake, key)), 'unreachable', [/cannot reach http:\/\/127\.0\.0\.1:\d+/], [key])
})

t.test('fail/TLS certificate that does not verify (no KAGI_PANOS_CA_FILE)', async (t) => {
  const { fake, key } = await fakeFor(t, { tls: selfSignedTls(tempDir(t).dir) })
  failed(t, await push(source, configFor(fake, key)), 'tls', [/did not verify \(DEPTH_ZERO_SELF_SIGNED_CERT/, /set KAGI_PANOS_CA_FILE/], [key])
  t.same(fake.requests, [], 'no request got through')
})

t.test('fail/KAGI_PANOS_CA_FILE holds a CA that did not issue the firewall\'s certificate', async (t) => {
  const { fake, key } = await fakeFor(t, { tls: selfSignedTls(tempDir(t).dir) })
  failed(t, await push(source, configFor(fake, key, { caPem: source.rootPem })), 'tls', [/did not verify/], [key])
})

t.test('fail/slow host: request timeout', async (t) => {
  const { fake, key } = await fakeFor(t)
  fake.delayFor = () => 2_000
  failed(t, await push(source, configFor(fake, key, { requestTimeoutMs: 150 })), 'timeout', [/no answer from http:\/\/127\.0\.0\.1:\d+ within 0\.15 s/], [key])
})

t.test('fail/timeout while writing: the change in flight may or may not be applied', async (t) => {
  const { fake, key } = await fakeFor(t)
  fake.delayFor = (q) => (q.params.type === 'import' && q.params['certificate-name']?.includes('issuing') ? 5_000 : 0)
  const r = await push(source, configFor(fake, key, { requestTimeoutMs: 1_500 }))
  failed(t, r, 'timeout', [/may or may not have applied: certificate kagi-issuing-ca-/, /\+ certificate kagi-root-ca-.*import root CA/], [key])
})

t.test('fail/commit job still running at the deadline', async (t) => {
  const { fake, key } = await fakeFor(t)
  fake.config.commitPolls = 1_000_000
  const r = await push(source, configFor(fake, key, { commitTimeoutMs: 200, pollIntervalMs: 20 }))
  failed(t, r, 'timeout', [/commit job 1 was still running after 0\.2 s; it may still finish/, /NOT committed/], [key])
  t.ok(fake.requests.filter((q) => q.params.type === 'op').length <= 12, 'polling is bounded')
})

t.test('fail/an answer that is not the XML API', async (t) => {
  const { fake, key } = await fakeFor(t)
  const r = await push(source, configFor(fake, key, { url: `${fake.url}/not-panos` }))
  failed(t, r, 'protocol', [/not an XML API response/, /is KAGI_PANOS_URL a PAN-OS firewall/], [key])
})
