import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { buildPlist } from '../../enrollment/plist.js'
import { run, tempDir } from '../support/openssl.js'
import { dataOf, pythonPlist, skipUnlessTools } from './fixtures/helpers.js'

const skip = skipUnlessTools(t, ['plistutil', 'python3'])

const sample = {
  zeta: 'last key, written last',
  Alpha: 'upper case sorts before lower case',
  escapes: 'a & b < c > d "quoted" \'single\'',
  whitespace: 'tab\tnewline\ncr\r\nend',
  japanese: '鍵の配布 — emoji 🔑',
  integer: 42,
  negative: -7,
  yes: true,
  no: false,
  data: Buffer.from(Array.from({ length: 200 }, (_, i) => i)),
  empty: Buffer.alloc(0),
  list: ['one', 2, { nested: 'dict' }],
  emptyList: [],
  emptyDict: {},
}

t.test('ok/round trip through plistutil (binary conversion) and Python plistlib', { skip }, async (t) => {
  const xml = buildPlist(sample)
  const dir = tempDir(t)
  const file = dir.file('sample.plist', xml)
  // plistutil exits 0 even when it fails (test-peers.md): the output file must exist and be non-empty.
  const bin = join(dir.dir, 'sample.bplist')
  const r = run('plistutil', ['-i', file, '-f', 'bin', '-o', bin])
  t.notMatch(r.stdout + r.stderr, /ERROR/, 'plistutil reports no error')
  t.ok(statSync(bin, { throwIfNoEntry: false })?.size, 'plistutil wrote a binary plist')
  t.equal(readFileSync(bin).subarray(0, 8).toString('latin1'), 'bplist00')

  for (const parsed of [pythonPlist(file), pythonPlist(bin)] as Record<string, unknown>[]) {
    t.equal(parsed.escapes, sample.escapes)
    t.equal(parsed.whitespace, sample.whitespace, 'tab, LF and CR survive')
    t.equal(parsed.japanese, sample.japanese)
    t.equal(parsed.integer, 42)
    t.equal(parsed.negative, -7)
    t.equal(parsed.yes, true)
    t.equal(parsed.no, false)
    t.ok(dataOf(parsed.data).equals(sample.data), '<data> round-trips')
    t.equal(dataOf(parsed.empty).length, 0)
    t.same(parsed.list, ['one', 2, { nested: 'dict' }])
    t.same(parsed.emptyList, [])
    t.same(parsed.emptyDict, {})
  }
})

t.test('ok/deterministic text: sorted keys, integers, tab indentation', async (t) => {
  const xml = buildPlist(sample).toString('utf8')
  t.equal(xml, buildPlist({ ...sample }).toString('utf8'), 'same input, same bytes')
  const keys = [...xml.matchAll(/^\t<key>([^<]*)<\/key>$/gm)].map((m) => m[1])
  t.same(keys, [...keys].sort(), 'top-level keys sorted')
  t.equal(keys[0], 'Alpha')
  t.match(xml, '<key>integer</key>\n\t<integer>42</integer>')
  t.match(xml, 'a &amp; b &lt; c &gt; d')
  t.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<!DOCTYPE plist PUBLIC "-\/\/Apple\/\/DTD PLIST 1.0\/\/EN"/)
  t.ok(xml.endsWith('</plist>\n'))
})

t.test('fail/values XML or a plist integer cannot carry', async (t) => {
  t.throws(() => buildPlist({ bad: 'bell \u0007' }), /XML cannot represent/, 'control character')
  t.throws(() => buildPlist({ bad: 'lone \ud800 surrogate' }), /XML cannot represent/, 'lone surrogate')
  t.throws(() => buildPlist({ ['key\u0000']: 'x' }), /XML cannot represent/, 'control character in a key')
  t.throws(() => buildPlist({ bad: 1.5 }), /only integers/)
  t.throws(() => buildPlist({ bad: Number.NaN }), /only integers/)
  t.doesNotThrow(() => buildPlist({ ok: 'tab\tnewline\ncr\r' }))
})
