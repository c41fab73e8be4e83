import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as zlib from 'node:zlib'
import t, { type Test } from 'tap'
import { pemToDer } from '../../ca/der.js'
import { buildAndroidBundle } from '../../enrollment/android.js'
import { buildZip, tableCrc32 } from '../../enrollment/zip.js'
import { run, tempDir } from '../support/openssl.js'
import { assertPkcs12, freshCredential, NOW, skipUnlessTools, testSettings } from './fixtures/helpers.js'

// unzip -t is preferred; when unzip is not installed (also in CI: .ci/run does not install it),
// `python3 -m zipfile -t` is the tester. Python's zipfile always reads the archive as a second reader.
const hasUnzip = run('sh', ['-c', 'command -v unzip']).status === 0
const skip = skipUnlessTools(t, ['openssl', 'python3'])
if (!hasUnzip) t.comment('unzip not installed (apt-get install -y unzip): testing archives with python3 -m zipfile -t')

/** Tests the archive with unzip -t (or python3 -m zipfile -t) and returns its entries as Python's zipfile reads them. */
function readZip(t: Test, zip: Buffer): { names: string[]; files: Record<string, Buffer>; dates: number[][] } {
  const dir = tempDir(t)
  const file = dir.file('bundle.zip', zip)
  const tester = hasUnzip ? run('unzip', ['-t', file]) : run('python3', ['-m', 'zipfile', '-t', file])
  t.equal(tester.status, 0, `${hasUnzip ? 'unzip -t' : 'python3 -m zipfile -t'} passes: ${tester.stdout}${tester.stderr}`)
  if (hasUnzip) t.match(tester.stdout, 'No errors detected')
  const out = join(dir.dir, 'out')
  const script = [
    'import json, sys, zipfile',
    'z = zipfile.ZipFile(sys.argv[1])',
    'assert z.testzip() is None',
    'z.extractall(sys.argv[2])',
    'print(json.dumps({"names": z.namelist(), "dates": [list(i.date_time) for i in z.infolist()], "methods": [i.compress_type for i in z.infolist()]}))',
  ].join('\n')
  const r = run('python3', ['-c', script, file, out])
  t.equal(r.status, 0, `python zipfile reads and extracts it: ${r.stderr}`)
  const listing = JSON.parse(r.stdout) as { names: string[]; dates: number[][]; methods: number[] }
  t.ok(listing.methods.every((m) => m === 0), 'stored entries')
  const files = Object.fromEntries(listing.names.map((name) => [name, readFileSync(join(out, name))]))
  return { names: listing.names, files, dates: listing.dates }
}

t.test('ok/Android ZIP: PKCS#12 with the returned password, CA certificates, INSTALL.txt without the password', { skip }, async (t) => {
  for (const leaf of ['ec-p256', 'rsa-2048'] as const) {
    const pki = await freshCredential('ecdsa-p256', leaf)
    const { credential } = pki
    const bundle = buildAndroidBundle(credential, testSettings())
    t.equal(bundle.filename, 'kagi-bob-s-pc.zip')
    t.match(bundle.pkcs12Password, /^[a-z2-9]{4}(-[a-z2-9]{4}){4}$/)
    const zip = readZip(t, bundle.body)
    t.same(zip.names, ['kagi-bob-s-pc.p12', 'kagi-root-ca.crt', 'kagi-issuing-ca.crt', 'INSTALL.txt'])
    t.same(zip.dates[0], [2026, 6, 1, 9, 30, 0], 'entries stamped with settings.now')
    // The Android PKCS#12 carries the chain so that the KeyChain holds the whole path.
    assertPkcs12(t, zip.files['kagi-bob-s-pc.p12']!, bundle.pkcs12Password, pki, [credential.certificate, pki.issuing, pki.root])
    t.ok(pemToDer(zip.files['kagi-root-ca.crt']!.toString(), 'CERTIFICATE').equals(pki.root), 'root CA as PEM')
    t.ok(pemToDer(zip.files['kagi-issuing-ca.crt']!.toString(), 'CERTIFICATE').equals(pki.issuing), 'issuing CA as PEM')
    const install = zip.files['INSTALL.txt']!.toString('utf8')
    t.notMatch(install, bundle.pkcs12Password, 'the password is not in the archive')
    t.match(install, 'VPN & app user certificate')
    t.match(install, 'VPN とアプリのユーザー証明書')
    t.match(install, 'vpn.example.com')
    t.match(install, /^1\. /m)
    const wrong = run('openssl', ['pkcs12', '-info', '-nokeys', '-in', tempDir(t).file('x.p12', zip.files['kagi-bob-s-pc.p12']!), '-passin', 'pass:wrong'])
    t.not(wrong.status, 0, 'a wrong password is refused')
  }
})

t.test('ok/ZIP writer: several entries, UTF-8 names, empty and larger files, deterministic', { skip }, async (t) => {
  const entries = [
    { name: 'empty.txt', data: Buffer.alloc(0) },
    { name: 'dir/鍵.bin', data: randomBytes(70_000) },
    { name: 'a.txt', data: Buffer.from('hello\n') },
  ]
  const zip = buildZip(entries, NOW)
  t.ok(zip.equals(buildZip(entries, NOW)), 'same input, same bytes')
  const read = readZip(t, zip)
  t.same(read.names, entries.map((e) => e.name))
  for (const e of entries) t.ok(read.files[e.name]!.equals(e.data), `${e.name} round-trips`)
  t.throws(() => buildZip([{ name: '/etc/passwd', data: Buffer.alloc(1) }], NOW), /bad ZIP entry name/)
  t.throws(() => buildZip([{ name: 'a\\b', data: Buffer.alloc(1) }], NOW), /bad ZIP entry name/)
})

t.test('ok/the table CRC-32 used before Node 20.15 equals zlib.crc32', async (t) => {
  for (const data of [Buffer.alloc(0), Buffer.from('123456789'), randomBytes(4096)]) {
    t.equal(tableCrc32(data), zlib.crc32(data))
  }
  t.equal(tableCrc32(Buffer.from('123456789')), 0xcbf43926, 'the CRC-32 check value')
})
