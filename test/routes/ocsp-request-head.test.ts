import t from 'tap'
import { mayBeOcspRequest, readOcspRequestHead } from '../../src/routes/ocsp-request-head.js'

const head = (...headers: string[]): string => ['POST /ocsp HTTP/1.1', ...headers].join('\r\n')
const plain = ['Host: ocsp.example.com', 'Content-Type: application/ocsp-request', 'Content-Length: 120']

t.test('ok/the-plain-case', async (t) => {
  t.same(readOcspRequestHead(head(...plain)), { contentLength: 120, close: false })
  t.same(readOcspRequestHead(head(...plain, 'Connection: close')), { contentLength: 120, close: true })
  t.same(readOcspRequestHead(head(...plain, 'connection: Keep-Alive, Close')), { contentLength: 120, close: true }, 'a list, any case')
  t.same(readOcspRequestHead(head('host: x', 'CONTENT-TYPE: Application/OCSP-Request', 'content-length:   7  ', 'User-Agent: PAN-OS', 'Accept: */*')), { contentLength: 7, close: false }, 'names and the type in any case, spaces around values, other headers ignored')
})

t.test('ok/http-1.0', async (t) => {
  const head10 = (...headers: string[]): string => ['POST /ocsp HTTP/1.0', ...headers].join('\r\n')
  t.same(readOcspRequestHead(head10('Host: 127.0.0.1', 'Content-Type: application/ocsp-request', 'Content-Length: 124')), { contentLength: 124, close: true }, 'openssl ocsp\'s head: closed after the answer')
  t.same(readOcspRequestHead(head10('Content-Type: application/ocsp-request', 'Content-Length: 5', 'Connection: keep-alive')), { contentLength: 5, close: false }, 'no Host is allowed in 1.0; keep-alive asked for')
  t.equal(readOcspRequestHead(head10('Host: a', 'Host: b', 'Content-Type: application/ocsp-request', 'Content-Length: 5')), undefined, 'two Hosts')
})

t.test('ok/prefixes', async (t) => {
  t.ok(mayBeOcspRequest(Buffer.from('PO')))
  t.ok(mayBeOcspRequest(Buffer.from('POST /ocsp HTTP/1.1\r\nHost')))
  t.notOk(mayBeOcspRequest(Buffer.from('GET ')))
  t.notOk(mayBeOcspRequest(Buffer.from('POST /ocsp?x')))
  t.ok(mayBeOcspRequest(Buffer.from('POST /ocsp HTTP/1.0\r\n')), 'HTTP/1.0, as openssl ocsp sends')
  t.notOk(mayBeOcspRequest(Buffer.from('POST /ocsp HTTP/1.2')))
  t.notOk(mayBeOcspRequest(Buffer.from('POST /ocsp HTTP/1.1\n')), 'a bare LF ending the request line')
  t.notOk(mayBeOcspRequest(Buffer.from('\x16\x03\x01')), 'a TLS ClientHello')
})

t.test('fail/anything-unsure-is-left-to-node', async (t) => {
  const cases: Record<string, string> = {
    'no Host': head('Content-Type: application/ocsp-request', 'Content-Length: 1'),
    'two Hosts': head(...plain, 'Host: other'),
    'no Content-Length': head('Host: x', 'Content-Type: application/ocsp-request'),
    'two Content-Lengths, same value': head(...plain, 'Content-Length: 120'),
    'a Content-Length list': head('Host: x', 'Content-Type: application/ocsp-request', 'Content-Length: 120, 120'),
    'a signed Content-Length': head('Host: x', 'Content-Type: application/ocsp-request', 'Content-Length: +120'),
    'an empty body': head('Host: x', 'Content-Type: application/ocsp-request', 'Content-Length: 0'),
    'a body over 16 KiB': head('Host: x', 'Content-Type: application/ocsp-request', 'Content-Length: 16385'),
    'Transfer-Encoding beside Content-Length': head(...plain, 'Transfer-Encoding: chunked'),
    'Content-Encoding': head(...plain, 'Content-Encoding: gzip'),
    'Expect: 100-continue': head(...plain, 'Expect: 100-continue'),
    'Upgrade': head(...plain, 'Connection: upgrade', 'Upgrade: websocket'),
    'another content type': head('Host: x', 'Content-Type: application/octet-stream', 'Content-Length: 1'),
    'a content type with parameters': head('Host: x', 'Content-Type: application/ocsp-request; q=1', 'Content-Length: 1'),
    'two content types': head(...plain, 'Content-Type: application/ocsp-request'),
    'a folded line (obs-fold)': head(...plain, 'X-A: 1', ' folded'),
    'a bare LF inside the head': head('Host: x\nContent-Length: 5', 'Content-Type: application/ocsp-request', 'Content-Length: 120'),
    'a bare CR inside a value': head(...plain, 'X-A: 1\r2'),
    'a space before the colon': head('Host: x', 'Content-Type: application/ocsp-request', 'Content-Length : 120'),
    'a line without a colon': head(...plain, 'junk'),
    'a NUL in a value': head(...plain, 'X-A: \0'),
    'another path': 'POST /ocsp/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: 1',
    'a query string': 'POST /ocsp?a=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: 1',
    'GET': 'GET /ocsp HTTP/1.1\r\nHost: x',
    'no headers at all': 'POST /ocsp HTTP/1.1',
  }
  for (const [what, text] of Object.entries(cases)) t.equal(readOcspRequestHead(text), undefined, what)
})
