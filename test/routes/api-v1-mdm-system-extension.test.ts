import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { derToPem } from '../../ca/index.js'
import { loadConfig } from '../../src/config.js'
import { parseProfile, skipUnlessTools, type Dict } from '../enrollment/fixtures/helpers.js'
import { build, type TestApp } from '../helper.js'
import { run, tempDir } from '../support/openssl.js'
import { PageClient } from '../support/session.js'

// MDM-delivered macOS machine profiles pre-approve GlobalProtect's system extension
// (com.apple.system-extension-policy, device channel only); the page's download never does.

const skip = skipUnlessTools(t, ['openssl', 'plistutil', 'python3'])
const url = (platform: string, query: string) => `/api/v1/mdm/profiles/${platform}?${query}`
const machine = 'user=alice@example.com&profile=device&hostname=alice-mac.corp.example.com'

/** Verifies the signed profile with openssl cms against kagi's root and returns its payloads, read by plistutil and plistlib. */
function signedPayloads(t: Test, kagi: TestApp, body: Buffer): Dict[] {
  const dir = tempDir(t)
  const out = join(dir.dir, 'p.plist')
  const verified = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', dir.file('p.mobileconfig', body), '-CAfile', dir.file('root.pem', derToPem(kagi.services.ca.root.der, 'CERTIFICATE')), '-out', out])
  t.equal(verified.status, 0, verified.stderr)
  return parseProfile(t, readFileSync(out)).PayloadContent as Dict[]
}

const policyOf = (payloads: Dict[]) => payloads.filter((p) => p.PayloadType === 'com.apple.system-extension-policy')
const identityOf = (payloads: Dict[]) => payloads.find((p) => p.PayloadType === 'com.apple.security.pkcs12' || p.PayloadType === 'com.apple.security.scep')!

t.test('a macOS machine profile from the MDM route allows exactly GlobalProtect\'s network extension', { skip }, async (t) => {
  const kagi = await build(t)
  const res = await kagi.app.inject({ url: url('macos', `${machine}&device=C02MACHINE1`), headers: kagi.as.mdm })
  t.equal(res.statusCode, 200, res.body.slice(0, 300))
  const payloads = signedPayloads(t, kagi, res.rawPayload)
  const [policy, ...more] = policyOf(payloads)
  t.equal(more.length, 0, 'one policy payload')
  t.same(policy!.AllowedSystemExtensions, { PXPZ95SK77: ['com.paloaltonetworks.GlobalProtect.client.extension'] }, 'the team ID and the one bundle')
  t.same(policy!.AllowedSystemExtensionTypes, { PXPZ95SK77: ['NetworkExtension'] })
  t.notOk('AllowedTeamIdentifiers' in policy!, 'not every extension the team signs')
  t.equal(policy!.PayloadVersion, 1)
  t.match(policy!.PayloadUUID, /^[0-9A-F-]{36}$/)
  t.equal(parseProfile(t, extract(t, kagi, res.rawPayload)).PayloadScope, 'System', 'a device-scoped profile')
  t.notOk('AllowAllAppsAccess' in identityOf(payloads), 'AllowAllAppsAccess stays false (absent) by default')

  const without = await kagi.app.inject({ url: url('macos', `${machine}&device=C02MACHINE2&systemExtension=false`), headers: kagi.as.mdm })
  t.equal(without.statusCode, 200)
  t.equal(policyOf(signedPayloads(t, kagi, without.rawPayload)).length, 0, 'systemExtension=false leaves it out')

  // SCEP delivery: the same policy beside the SCEP payload.
  const scep = await kagi.app.inject({ url: url('macos', `${machine}&device=C02MACHINE3&delivery=scep`), headers: kagi.as.mdm })
  t.equal(scep.statusCode, 200, scep.body.slice(0, 300))
  const scepPayloads = signedPayloads(t, kagi, scep.rawPayload)
  t.same(policyOf(scepPayloads)[0]?.AllowedSystemExtensions, { PXPZ95SK77: ['com.paloaltonetworks.GlobalProtect.client.extension'] })
})

/** The plist inside a signed profile (for top-level keys). */
function extract(t: Test, kagi: TestApp, body: Buffer): Buffer {
  const dir = tempDir(t)
  const out = join(dir.dir, 'top.plist')
  const r = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', dir.file('top.mobileconfig', body), '-CAfile', dir.file('root.pem', derToPem(kagi.services.ca.root.der, 'CERTIFICATE')), '-out', out])
  t.equal(r.status, 0, r.stderr)
  return readFileSync(out)
}

t.test('user profiles, other platforms and the page never carry it; asking where it cannot go is a 400', { skip }, async (t) => {
  const kagi = await build(t, { env: { KAGI_PUBLIC_URL: 'http://127.0.0.1:3000' } })
  const user = await kagi.app.inject({ url: url('macos', 'user=alice@example.com&device=C02USER0001'), headers: kagi.as.mdm })
  t.equal(user.statusCode, 200)
  t.equal(policyOf(signedPayloads(t, kagi, user.rawPayload)).length, 0, 'a user-channel profile has none')

  const refused: [string, RegExp][] = [
    [url('macos', 'user=alice@example.com&device=C02USER0002&systemExtension=true'), /needs profile=device/],
    [url('ios', 'user=alice@example.com&device=F2LXIOS0001&systemExtension=true'), /applies to macos/],
    [url('windows', 'user=alice@example.com&device=PC-1&systemExtension=false'), /applies to macos/],
    [url('macos', `${machine}&device=C02MACHINE4&systemExtension=yes`), /systemExtension must be true or false/],
  ]
  for (const [u, message] of refused) {
    const res = await kagi.app.inject({ url: u, headers: kagi.as.mdm })
    t.equal(res.statusCode, 400, u)
    t.match(res.json().error.message, message)
  }
  t.equal((await kagi.services.db.selectFrom('certificate').select('serial').execute()).length, 1, 'the refused requests issued nothing')
  t.equal((await kagi.services.db.selectFrom('device').select('id').execute()).length, 1, 'and added no device')

  // The page's machine-certificate download for a Mac: the approval step stays, no policy payload.
  const page = new PageClient(kagi.app, { 'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15' })
  await page.devSignIn('bob@example.com')
  await page.get('/')
  const enrolled = await page.post('/enroll', { platform: 'macos', deviceName: 'Mac mini', kind: 'device', hostname: 'bob-mini.corp.example.com' })
  t.equal(enrolled.statusCode, 200, enrolled.body.slice(0, 300))
  const link = /href="data:[^;]+;base64,([^"]+)" download="[^"]+\.mobileconfig"/.exec(enrolled.body)
  t.ok(link, 'a download link')
  const payloads = signedPayloads(t, kagi, Buffer.from(link![1]!, 'base64'))
  t.ok(payloads.some((p) => p.PayloadType === 'com.apple.security.pkcs12'), 'the identity is there')
  t.equal(policyOf(payloads).length, 0, 'the page\'s profile has no system-extension policy')
  t.notOk('AllowAllAppsAccess' in identityOf(payloads))
  t.match(enrolled.body, /System Settings|system extension/i, 'the page keeps its approval step')
})

t.test('KAGI_MAC_ALLOW_ALL_APPS_ACCESS=true sets AllowAllAppsAccess in MDM macOS profiles only', { skip }, async (t) => {
  const kagi = await build(t, { env: { KAGI_MAC_ALLOW_ALL_APPS_ACCESS: 'true', KAGI_PUBLIC_URL: 'http://127.0.0.1:3000' } })
  const pkcs12 = await kagi.app.inject({ url: url('macos', 'user=alice@example.com&device=C02ALLAPPS1'), headers: kagi.as.mdm })
  t.equal(identityOf(signedPayloads(t, kagi, pkcs12.rawPayload)).AllowAllAppsAccess, true)
  const scep = await kagi.app.inject({ url: url('macos', 'user=alice@example.com&device=C02ALLAPPS2&delivery=scep'), headers: kagi.as.mdm })
  t.equal((identityOf(signedPayloads(t, kagi, scep.rawPayload)).PayloadContent as Dict).AllowAllAppsAccess, true, 'in the SCEP payload too')
  const ios = await kagi.app.inject({ url: url('ios', 'user=alice@example.com&device=F2LXALLAPPS'), headers: kagi.as.mdm })
  t.notOk('AllowAllAppsAccess' in identityOf(signedPayloads(t, kagi, ios.rawPayload)), 'a macOS key only')

  const page = new PageClient(kagi.app, { 'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15' })
  await page.devSignIn('carol@example.com')
  await page.get('/')
  const enrolled = await page.post('/enroll', { platform: 'macos', deviceName: 'MacBook Air', kind: 'user', hostname: '' })
  const link = /href="data:[^;]+;base64,([^"]+)" download=/.exec(enrolled.body)
  t.notOk('AllowAllAppsAccess' in identityOf(signedPayloads(t, kagi, Buffer.from(link![1]!, 'base64'))), 'not in the page\'s download')
})

t.test('KAGI_MAC_ALLOW_ALL_APPS_ACCESS takes true or false only', async (t) => {
  t.throws(() => loadConfig({ KAGI_MAC_ALLOW_ALL_APPS_ACCESS: 'yes' }), { message: /KAGI_MAC_ALLOW_ALL_APPS_ACCESS: must be true or false/ })
  t.equal(loadConfig({}).macAllowAllAppsAccess, false)
})
