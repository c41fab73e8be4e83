import 'reflect-metadata'
import net from 'node:net'
import t from 'tap'
import { build } from '../helper.js'
import { ocspFixture } from '../support/ocsp-fixture.js'

/**
 * kagi's own OCSP connections (routes/ocsp-connections.ts) on a listening
 * server, spoken to in raw bytes. Who answered shows in the answer itself:
 * kagi writes its header names in lower case (`date:`), Node's server
 * writes `Date:` and `Connection:`.
 */
t.test('OCSP on kagi\'s own connections', async (t) => {
  const { app, services, as } = await build(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port

  const { nonceRequest, verdict } = await ocspFixture(t, app, services, as.admin, 'conn@example.com')
  const ocspRequest = (extra = ''): Buffer =>
    Buffer.concat([Buffer.from(`POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${nonceRequest.length}\r\n${extra}\r\n`, 'latin1'), nonceRequest])
  const verified = (name: string, der: Buffer): boolean => /: good[\s\S]*Response verify OK/.test(verdict(name, der))

  await t.test('ok/keep-alive-and-pipelined-answers-in-order', async (t) => {
    const c = await Conversation.open(port)
    c.write(ocspRequest())
    const first = await c.answer()
    t.equal(first.status, 200)
    t.match(first.head, /\r\ndate: /, 'answered by kagi')
    t.match(first.head, /\r\nconnection: keep-alive\r\nkeep-alive: timeout=72/)
    t.match(first.head, /\r\ncontent-type: application\/ocsp-response\r\ncache-control: no-store\r\n/)
    t.ok(verified('first.der', first.body))
    // Three at once, the last split across writes: each answered, in order, on the same connection.
    const three = Buffer.concat([ocspRequest(), ocspRequest(), ocspRequest()])
    c.write(three.subarray(0, three.length - 30))
    await new Promise((r) => setTimeout(r, 20))
    c.write(three.subarray(three.length - 30))
    for (let i = 0; i < 3; i++) {
      const a = await c.answer()
      t.equal(a.status, 200, `pipelined ${i}`)
      t.ok(verified(`p${i}.der`, a.body))
    }
    t.notOk(c.closed, 'kept open')
    c.destroy()
  })

  await t.test('ok/a-head-a-byte-at-a-time', async (t) => {
    const c = await Conversation.open(port)
    const bytes = ocspRequest()
    for (let i = 0; i < bytes.length; i += 7) {
      c.write(bytes.subarray(i, i + 7))
      await new Promise((r) => setImmediate(r))
    }
    const a = await c.answer()
    t.equal(a.status, 200)
    t.match(a.head, /\r\ndate: /)
    t.ok(verified('slow.der', a.body))
    c.destroy()
  })

  await t.test('ok/connection-close-is-honoured', async (t) => {
    const c = await Conversation.open(port)
    c.write(ocspRequest('Connection: close\r\n'))
    const a = await c.answer()
    t.equal(a.status, 200)
    t.match(a.head, /\r\nconnection: close$/)
    await c.closing
    t.ok(c.closed && !c.gaveUp, 'kagi closed the connection after its answer')
  })

  await t.test('ok/http-1.0-as-openssl-sends-it', async (t) => {
    const c = await Conversation.open(port)
    c.write(Buffer.concat([Buffer.from(`POST /ocsp HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${nonceRequest.length}\r\n\r\n`, 'latin1'), nonceRequest]))
    const a = await c.answer()
    t.equal(a.status, 200)
    t.match(a.head, /\r\ndate: /, 'answered by kagi')
    t.match(a.head, /\r\nconnection: close$/, 'HTTP/1.0 without keep-alive: closed after the answer')
    t.ok(verified('http10.der', a.body))
    await c.closing
    t.ok(c.closed && !c.gaveUp)
    const kept = await Conversation.open(port)
    kept.write(Buffer.concat([Buffer.from(`POST /ocsp HTTP/1.0\r\nConnection: keep-alive\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${nonceRequest.length}\r\n\r\n`, 'latin1'), nonceRequest]))
    const first = await kept.answer()
    t.match(first.head, /\r\nconnection: keep-alive\r\n/)
    kept.write(Buffer.concat([Buffer.from(`POST /ocsp HTTP/1.0\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${nonceRequest.length}\r\n\r\n`, 'latin1'), nonceRequest]))
    t.ok(verified('http10-second.der', (await kept.answer()).body), 'a second request on the kept connection')
    await kept.closing
    t.ok(kept.closed && !kept.gaveUp, 'closed after the one that did not ask to keep it')
  })

  await t.test('ok/other-requests-go-to-node-with-their-bytes', async (t) => {
    // A connection that starts with something else is Node's from its first bytes.
    const health = await Conversation.open(port)
    health.write(Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'))
    const live = await health.answer()
    t.equal(live.status, 200)
    t.match(live.head, /\r\nDate: /, 'answered by Node')
    // The same connection can then ask OCSP: Node (and the request lane) answer it.
    health.write(ocspRequest())
    const after = await health.answer()
    t.equal(after.status, 200)
    t.ok(verified('after-node.der', after.body))
    health.destroy()

    // OCSP first, then another request, pipelined in one write: kagi answers the first, Node the second.
    const mixed = await Conversation.open(port)
    mixed.write(Buffer.concat([ocspRequest(), Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')]))
    const ocsp = await mixed.answer()
    t.match(ocsp.head, /\r\ndate: /)
    t.ok(verified('mixed.der', ocsp.body))
    const second = await mixed.answer()
    t.equal(second.status, 200)
    t.match(second.head, /\r\nDate: /)
    t.equal(JSON.parse(second.body.toString()).status, 'ok')
    mixed.destroy()
  })

  await t.test('fail/ambiguous-heads-get-nodes-answer', async (t) => {
    const heads: Record<string, string> = {
      'duplicate Content-Length': `POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${nonceRequest.length}\r\nContent-Length: ${nonceRequest.length}\r\n\r\n`,
      'Content-Length and Transfer-Encoding': `POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${nonceRequest.length}\r\nTransfer-Encoding: chunked\r\n\r\n`,
      'no Host': `POST /ocsp HTTP/1.1\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${nonceRequest.length}\r\n\r\n`,
      'a bare LF': `POST /ocsp HTTP/1.1\r\nHost: x\nContent-Type: application/ocsp-request\r\nContent-Length: ${nonceRequest.length}\r\n\r\n`,
    }
    const long = `POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${nonceRequest.length}\r\nX-Long: ${'a'.repeat(17 * 1024)}\r\n\r\n`
    for (const [what, head, status] of [...Object.entries(heads).map(([w, h]) => [w, h, 400] as const), ['a head over 16 KiB, sent whole', long, 431] as const]) {
      const c = await Conversation.open(port)
      c.write(Buffer.concat([Buffer.from(head, 'latin1'), nonceRequest]))
      const a = await c.answer()
      t.equal(a.status, status, `${what}: Node's parser refuses it`)
      t.notMatch(a.head, /\r\ndate: /, `${what}: not kagi's answer`)
      c.destroy()
    }
  })

  await t.test('ok/slow-and-idle-connections-close', async (t) => {
    const { headersTimeout, keepAliveTimeout } = app.server
    app.server.headersTimeout = 200
    app.server.keepAliveTimeout = 200
    t.teardown(() => {
      app.server.headersTimeout = headersTimeout
      app.server.keepAliveTimeout = keepAliveTimeout
    })
    const slow = await Conversation.open(port)
    slow.write(ocspRequest().subarray(0, 40))
    await slow.closing
    t.ok(slow.closed && !slow.gaveUp, 'a request not whole within headersTimeout: closed by the server')
    const idle = await Conversation.open(port)
    idle.write(ocspRequest())
    t.equal((await idle.answer()).status, 200)
    await idle.closing
    t.ok(idle.closed && !idle.gaveUp, 'no request within keepAliveTimeout of the last answer: closed by the server')
    // A whole request and the start of the next in one write: the first is answered, the rest must still come in time.
    const leftover = await Conversation.open(port)
    leftover.write(Buffer.concat([ocspRequest(), ocspRequest().subarray(0, 40)]))
    t.equal((await leftover.answer()).status, 200)
    await leftover.closing
    t.ok(leftover.closed && !leftover.gaveUp, 'the part of a pipelined request left behind an answer is timed too')
  })

  await t.test('ok/closing-the-server-ends-idle-connections', async (t) => {
    const idle = await Conversation.open(port)
    idle.write(ocspRequest())
    t.equal((await idle.answer()).status, 200)
    // app.close waits for every connection: it returns only because kagi's idle one was ended.
    await app.close()
    await idle.closing
    t.ok(idle.closed && !idle.gaveUp)
  })
})

/** A raw client connection: writes bytes, reads answers one by one (status line, head, Content-Length body). */
class Conversation {
  private buffered = Buffer.alloc(0)
  private waiter: (() => void) | undefined
  closed = false
  /** This side gave up after 10 s: the server had not closed the connection. */
  gaveUp = false
  readonly closing: Promise<void>

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk])
      this.waiter?.()
    })
    this.closing = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true
        this.waiter?.()
        resolve()
      }),
    )
    socket.on('error', () => {})
    socket.setTimeout(10_000, () => {
      this.gaveUp = true
      socket.destroy()
    })
  }

  static open(port: number): Promise<Conversation> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new Conversation(socket)))
      socket.once('error', reject)
    })
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  destroy(): void {
    this.socket.destroy()
  }

  async answer(): Promise<{ status: number; head: string; body: Buffer }> {
    for (;;) {
      const end = this.buffered.indexOf('\r\n\r\n')
      if (end >= 0) {
        const head = this.buffered.toString('latin1', 0, end)
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
        if (this.buffered.length >= end + 4 + length) {
          const body = this.buffered.subarray(end + 4, end + 4 + length)
          this.buffered = this.buffered.subarray(end + 4 + length)
          return { status: Number(head.slice(9, 12)), head, body }
        }
      }
      if (this.closed) throw new Error(`connection closed; received ${JSON.stringify(this.buffered.toString('latin1'))}`)
      await new Promise<void>((resolve) => (this.waiter = resolve))
    }
  }
}
