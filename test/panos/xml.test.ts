import t from 'tap'
import { messageLines } from '../../src/panos/response.js'
import { parseXml, serializeXml, textOf } from '../../src/panos/xml.js'

t.test('ok/the shapes PAN-OS sends (reference §1.3)', async (t) => {
  const odd = parseXml(`<response status = 'error' code = '400'><result><msg>Parameter &quot;format&quot; is required while exporting certificate</msg></result></response>`)
  t.same(odd.attributes, { status: 'error', code: '400' })
  t.same(messageLines(odd), ['Parameter "format" is required while exporting certificate'])
  const cdata = parseXml('<response status="error" code="12"><msg><line><![CDATA[ x -> server is invalid]]></line></msg></response>')
  t.same(messageLines(cdata), ['x -> server is invalid'])
  const nested = parseXml('<response status="error"><msg><line><line>first</line><line>second</line></line></msg></response>')
  t.same(messageLines(nested), ['first', 'second'])
  const plain = parseXml('<?xml version="1.0"?>\n<!-- c --><response status="success" code="20"><msg>command succeeded</msg></response>\n')
  t.same(messageLines(plain), ['command succeeded'])
  t.equal(textOf(parseXml('<a>&#65;&#x42;&lt;&amp;</a>')), 'AB<&')
})

t.test('ok/serialize round trip escapes', async (t) => {
  const xml = '<entry name="a&quot;b"><x>1 &lt; 2 &amp; 3</x><empty/></entry>'
  t.equal(serializeXml(parseXml(xml)), xml)
})

for (const [name, xml] of [
  ['doctype', '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'],
  ['mismatched tag', '<a><b></a></b>'],
  ['unknown entity', '<a>&nbsp;</a>'],
  ['bare ampersand', '<a>fish & chips</a>'],
  ['two roots', '<a/><b/>'],
  ['unclosed', '<a><b/>'],
  ['duplicate attribute', '<a x="1" x="2"/>'],
  ['html', '<html><body>Not Found<br></body></html>'],
] as const) {
  t.test(`fail/${name}`, async (t) => {
    t.throws(() => parseXml(xml), { name: 'XmlParseError' })
  })
}
