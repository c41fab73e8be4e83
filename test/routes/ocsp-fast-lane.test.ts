import 'reflect-metadata'
import net from 'node:net'
import t from 'tap'
import { createLogger } from '../../src/log.js'
import { build } from '../helper.js'
import { ocspFixture } from '../support/ocsp-fixture.js'

/**
 * POST /ocsp is answered by routes/ocsp-fast-lane.ts on a listening server
 * and by the Fastify route under `inject` and for every request the lane
 * does not take. Both must give the same answers; the lane's log lines have
 * no Fastify request id, which tells here who answered.
 */
t.test('the OCSP fast lane', async (t) => {
  const lines: Record<string, unknown>[] = []
  const log = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } })
  const { app, services, as } = await build(t, { log })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const origin = `http://127.0.0.1:${port}`

  const { nonceRequest, verdict } = await ocspFixture(t, app, services, as.admin, 'lane@example.com')
  /** The request lines logged for POST /ocsp since `from`: whether each carries Fastify's request id. */
  const answeredBy = (from: number): string[] =>
    lines.slice(from).filter((l) => l.msg === 'request' && l.url === '/ocsp').map((l) => (l.reqId === undefined ? 'lane' : 'fastify'))

  await t.test('ok/lane-and-route-answer-alike', async (t) => {
    const from = lines.length
    const overHttp = await fetch(`${origin}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: nonceRequest })
    const viaInject = await app.inject({ method: 'POST', url: '/ocsp', headers: { 'content-type': 'application/ocsp-request' }, payload: nonceRequest })
    t.same(answeredBy(from), ['lane', 'fastify'], 'the listener took the lane, inject the route')
    t.equal(overHttp.status, 200)
    t.equal(viaInject.statusCode, 200)
    for (const header of ['content-type', 'cache-control']) t.equal(overHttp.headers.get(header), viaInject.headers[header], header)
    const laneDer = Buffer.from(await overHttp.arrayBuffer())
    t.equal(overHttp.headers.get('content-length'), String(laneDer.length))
    t.match(verdict('lane.der', laneDer), /: good[\s\S]*Response verify OK/)
    t.match(verdict('route.der', viaInject.rawPayload), /: good[\s\S]*Response verify OK/)
  })

  await t.test('ok/lane-counts-like-the-route', async (t) => {
    const count = async (): Promise<number> => {
      const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
      return Number(/kagi_http_request_duration_seconds_count\{method="POST",route="\/ocsp",status_code="200"\} (\d+)/.exec(text)?.[1] ?? 0)
    }
    const before = await count()
    const requestsBefore = Number(/kagi_ocsp_requests_total\{method="POST"\} (\d+)/.exec((await app.inject({ method: 'GET', url: '/metrics' })).body)?.[1] ?? 0)
    for (let i = 0; i < 3; i++) await (await fetch(`${origin}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: nonceRequest })).arrayBuffer()
    t.equal((await count()) - before, 3, 'request durations')
    const requestsAfter = Number(/kagi_ocsp_requests_total\{method="POST"\} (\d+)/.exec((await app.inject({ method: 'GET', url: '/metrics' })).body)?.[1] ?? 0)
    t.equal(requestsAfter - requestsBefore, 3, 'OCSP requests')
  })

  await t.test('ok/what-the-lane-does-not-take-goes-to-fastify', async (t) => {
    const post = (path: string, headers: Record<string, string>, body: BodyInit) => fetch(`${origin}${path}`, { method: 'POST', headers, body })
    let from = lines.length
    const wrongType = await post('/ocsp', { 'content-type': 'application/octet-stream' }, nonceRequest)
    t.equal(wrongType.status, 415)
    t.equal((await wrongType.json()).error.code, 'unsupported_media_type')
    t.same(answeredBy(from), ['fastify'])

    from = lines.length
    const withQuery = await post('/ocsp?x=1', { 'content-type': 'application/ocsp-request' }, nonceRequest)
    t.equal(withQuery.status, 200)
    t.match(verdict('query.der', Buffer.from(await withQuery.arrayBuffer())), /: good[\s\S]*Response verify OK/)
    t.same(answeredBy(from), ['fastify'])

    from = lines.length
    const tooLarge = await post('/ocsp', { 'content-type': 'application/ocsp-request' }, Buffer.alloc(17 * 1024, 0x30))
    t.equal(tooLarge.status, 413)
    t.equal((await tooLarge.json()).error.code, 'payload_too_large')
    t.same(answeredBy(from), ['fastify'])

    // A chunked body (no Content-Length), sent by hand: fetch always sets a length for a Buffer.
    from = lines.length
    const chunked = await rawExchange(port, Buffer.concat([
      Buffer.from('POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'),
      Buffer.from(`${nonceRequest.length.toString(16)}\r\n`), nonceRequest, Buffer.from('\r\n0\r\n\r\n'),
    ]))
    t.match(chunked.toString('latin1'), /^HTTP\/1\.1 200 /)
    t.same(answeredBy(from), ['fastify'])

    from = lines.length
    const garbage = await post('/ocsp', { 'content-type': 'application/ocsp-request' }, Buffer.from('not DER at all'))
    t.equal(garbage.status, 200, 'malformedRequest is an OCSP answer, not an HTTP error (RFC 6960 Appendix A)')
    t.same([...Buffer.from(await garbage.arrayBuffer())], [0x30, 0x03, 0x0a, 0x01, 0x01])
    t.same(answeredBy(from), ['lane'])
  })

  await t.test('ok/a-client-gone-mid-body-breaks-nothing', async (t) => {
    await new Promise<void>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.write(`POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${nonceRequest.length}\r\n\r\n`)
        socket.write(nonceRequest.subarray(0, 10))
        setTimeout(() => {
          socket.destroy()
          resolve()
        }, 50)
      })
    })
    const after = await fetch(`${origin}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: nonceRequest })
    t.equal(after.status, 200)
    t.match(verdict('after.der', Buffer.from(await after.arrayBuffer())), /: good[\s\S]*Response verify OK/)
  })

  await t.test('fail/a-failing-answer-gets-the-error-table-never-a-stack', async (t) => {
    // A database outage, injected where the answer is made (the replica tests make real ones); the lane must turn it into the error table's 503.
    const original = services.ocsp.answer.bind(services.ocsp)
    services.ocsp.answer = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
    }
    t.teardown(() => void (services.ocsp.answer = original))
    const from = lines.length
    const res = await fetch(`${origin}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: nonceRequest })
    const text = await res.text()
    t.equal(res.status, 503)
    t.equal(res.headers.get('cache-control'), 'no-store')
    t.same(JSON.parse(text), { error: { code: 'database_unavailable', message: 'the database is unavailable; try again shortly' } })
    t.notMatch(text, /ECONNREFUSED|at .*\.ts/, 'no detail, no stack')
    t.same(answeredBy(from), ['lane'])
    t.ok(lines.slice(from).some((l) => l.msg === 'request failed' && l.level === 50), 'logged at error')
  })

  await t.test('ok/draining-goes-to-fastify', async (t) => {
    services.draining = true
    t.teardown(() => void (services.draining = false))
    const from = lines.length
    const res = await fetch(`${origin}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: nonceRequest })
    await res.arrayBuffer()
    t.same(answeredBy(from), ['fastify'], 'while shutting down, every request goes through Fastify (and its 503 once it closes)')
  })
})

/**
 * Sends raw bytes and returns everything the server answers before it closes
 * (the request asks it to). The client does not half-close: Node's HTTP
 * server (httpAllowHalfOpen false) ends a connection whose client sent FIN
 * before it answers, so an `end(bytes)` got an empty reply whenever the FIN
 * came in the same read as the request.
 */
function rawExchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(bytes))
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks)))
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')))
  })
}
