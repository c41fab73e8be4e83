// The test double itself follows the reference (§1.13), so the push tests prove something.
import t, { type Test } from 'tap'
import { findPath, parseXml, serializeXml, textOf, type XmlElement } from '../../src/panos/xml.js'
import { startFakePanos, type FakePanos } from './fake-panos.js'
import { testSource } from './helpers.js'

const source = await testSource()
const ADDR = '/config/shared/address'

async function fakeFor(t: Test): Promise<{ fake: FakePanos; key: string; api: (params: Record<string, string>, init?: RequestInit) => Promise<XmlElement> }> {
  const fake = await startFakePanos({ users: { 'kagi-api': 'pw', alice: 'pw2' } })
  t.teardown(() => fake.close())
  const key = fake.issueKey('kagi-api')
  const api = async (params: Record<string, string>, init: RequestInit = {}) => {
    const res = await fetch(`${fake.url}/api/`, {
      method: 'POST',
      headers: { 'x-pan-key': key, 'content-type': 'application/x-www-form-urlencoded', ...(init.headers ?? {}) },
      body: new URLSearchParams(params),
    })
    return parseXml(await res.text())
  }
  return { fake, key, api }
}

const status = (r: XmlElement) => `${r.attributes.status}/${r.attributes.code ?? '-'}`

t.test('get reads the candidate, show the running configuration', async (t) => {
  const { api } = await fakeFor(t)
  t.equal(status(await api({ type: 'config', action: 'get', xpath: `${ADDR}/entry[@name='a']` })), 'success/7', 'missing: code 7')
  t.equal(status(await api({ type: 'config', action: 'set', xpath: ADDR, element: '<entry name="a"><ip-netmask>10.0.0.1</ip-netmask></entry>' })), 'success/20')
  const got = await api({ type: 'config', action: 'get', xpath: `${ADDR}/entry[@name='a']` })
  t.equal(status(got), 'success/19')
  t.equal(findPath(got, 'result/entry')?.attributes.admin, 'kagi-api', 'candidate changes carry the admin stamp')
  const shown = await api({ type: 'config', action: 'show', xpath: `${ADDR}/entry[@name='a']` })
  t.equal(status(shown), 'error/-', 'not running yet: status error without a code')
  t.equal(textOf(findPath(shown, 'msg/line')), 'No such node')
  t.equal(status(await api({ type: 'config', action: 'get', xpath: 'shared/address' })), 'error/6', 'relative xpath: bad xpath')
})

t.test('set merges, edit replaces, delete removes', async (t) => {
  const { fake, api } = await fakeFor(t)
  await api({ type: 'config', action: 'set', xpath: ADDR, element: '<entry name="a"><ip-netmask>10.0.0.1</ip-netmask><description>x</description></entry>' })
  await api({ type: 'config', action: 'set', xpath: `${ADDR}/entry[@name='a']`, element: '<ip-netmask>10.0.0.2</ip-netmask>' })
  let a = fake.candidate(`${ADDR}/entry[@name='a']`)[0]
  t.equal(textOf(findPath(a, 'ip-netmask')), '10.0.0.2')
  t.equal(textOf(findPath(a, 'description')), 'x', 'set keeps siblings')
  const edited = await api({ type: 'config', action: 'edit', xpath: `${ADDR}/entry[@name='a']`, element: '<entry name="a"><fqdn>a.example</fqdn></entry>' })
  t.equal(status(edited), 'success/20')
  a = fake.candidate(`${ADDR}/entry[@name='a']`)[0]
  t.notOk(findPath(a, 'description'), 'edit replaces the node')
  t.equal(status(await api({ type: 'config', action: 'edit', xpath: `${ADDR}/entry[@name='a']`, element: '<entry name="b"/>' })), 'error/12')
  t.equal(status(await api({ type: 'config', action: 'delete', xpath: `${ADDR}/entry[@name='a']` })), 'success/20')
  t.same(fake.candidate(`${ADDR}/entry[@name='a']`), [])
})

t.test('multi-config: strict-transactional rolls the batch back', async (t) => {
  const { fake, api } = await fakeFor(t)
  const element = `<multi-config><set id="1" xpath="${ADDR}"><entry name="m1"><fqdn>m1</fqdn></entry></set><set id="2" xpath="${ADDR}"><entry name="${'n'.repeat(64)}"><fqdn>x</fqdn></entry></set></multi-config>`
  const strict = await api({ type: 'config', action: 'multi-config', 'strict-transactional': 'yes', element })
  t.equal(status(strict), 'error/12')
  t.match(textOf(findPath(strict, 'msg/line')), /can be at most 63 characters, but current length: 64/)
  t.same(fake.candidate(`${ADDR}/entry[@name='m1']`), [], 'nothing of the batch stays')
  await api({ type: 'config', action: 'multi-config', element })
  t.equal(fake.candidate(`${ADDR}/entry[@name='m1']`).length, 1, 'without strict, writes before the failure stay')
})

t.test('import takes its parameters from multipart fields too (pango style)', async (t) => {
  const { fake, key } = await fakeFor(t)
  const form = new FormData()
  for (const [k, v] of Object.entries({ type: 'import', category: 'certificate', 'certificate-name': 'pango-ca', format: 'pem', key })) form.append(k, v)
  form.append('file', new Blob([source.rootPem]), 'ca.pem')
  const res = await fetch(`${fake.url}/api/`, { method: 'POST', body: form })
  const body = parseXml(await res.text())
  t.equal(status(body), 'success/-')
  t.match(textOf(findPath(body, 'result')), /Successfully imported pango-ca into candidate configuration/)
  const entry = fake.candidate("/config/shared/certificate/entry[@name='pango-ca']")[0]
  t.equal(textOf(findPath(entry, 'ca')), 'yes')
  t.equal(textOf(findPath(entry, 'common-name')), 'kagi Root CA')
  t.notOk(textOf(findPath(entry, 'public-key')).endsWith('\n'), 'public-key without the final newline')
  t.equal(fake.requests.at(-1)?.auth, 'key-param')
})

t.test('authentication: key parameter, header, Basic; never Basic for keygen; odd quoting', async (t) => {
  const { fake } = await fakeFor(t)
  const basic = `Basic ${Buffer.from('alice:pw2').toString('base64')}`
  const viaBasic = await fetch(`${fake.url}/api/?type=op&cmd=${encodeURIComponent('<show><system><info/></system></show>')}`, { headers: { authorization: basic } })
  t.equal(viaBasic.status, 200)
  const keygen = await fetch(`${fake.url}/api/?type=keygen&user=alice&password=pw2`, { headers: { authorization: basic } })
  t.equal(keygen.status, 403)
  const text = await keygen.text()
  t.match(text, /^<response status = 'error' code = '403'>/, 'PAN-OS quoting')
  t.equal(parseXml(text).attributes.status, 'error', 'and the client parser reads it')
  const bad = await fetch(`${fake.url}/api/?type=op&cmd=x`, { headers: { 'x-pan-key': 'nope' } })
  t.equal(bad.status, 403)
})

t.test('commit: no changes, partial per admin, FAIL on a dangling reference, unknown job', async (t) => {
  const { fake, api } = await fakeFor(t)
  const commit = (admin: string) => api({ type: 'commit', action: 'partial', cmd: `<commit><partial><admin><member>${admin}</member></admin></partial></commit>` })
  const none = await commit('kagi-api')
  t.equal(textOf(findPath(none, 'msg/line')), 'There are no changes to commit.')
  t.notOk(findPath(none, 'result/job'))
  await api({ type: 'config', action: 'set', xpath: "/config/shared/certificate-profile", element: '<entry name="p"><CA><entry name="missing-ca"/></CA></entry>' })
  t.equal(textOf(findPath(await api({ type: 'op', cmd: '<check><pending-changes/></check>' }), 'result')), 'yes')
  t.notOk(findPath(await commit('alice'), 'result/job'), 'alice has nothing pending')
  const job = textOf(findPath(await commit('kagi-api'), 'result/job'))
  t.equal(job, '1')
  const poll = () => api({ type: 'op', cmd: `<show><jobs><id>${job}</id></jobs></show>` })
  t.equal(textOf(findPath(await poll(), 'result/job/status')), 'ACT')
  const fin = await poll()
  t.equal(textOf(findPath(fin, 'result/job/status')), 'FIN')
  t.equal(textOf(findPath(fin, 'result/job/result')), 'FAIL')
  t.match(serializeXml(findPath(fin, 'result/job/details')!), /<line>certificate-profile -&gt; p -&gt; CA -&gt; missing-ca is not a valid reference<\/line>/)
  t.same(fake.running("/config/shared/certificate-profile/entry[@name='p']"), [])
  t.equal(status(await api({ type: 'op', cmd: '<show><jobs><id>99</id></jobs></show>' })), 'error/-')
})
