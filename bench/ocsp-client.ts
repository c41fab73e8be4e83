import { readFileSync } from 'node:fs'
import net from 'node:net'
import type { LoadResult } from './load.js'

/**
 * Load client for OCSP responders: POSTs one saved request for N seconds from
 * CONCURRENCY connections and prints the result as JSON. Runs inside the
 * network namespace of the openssl peer too, so both responders are measured
 * by the same client.
 *
 * It writes one prepared HTTP/1.1 request on a raw socket and reads just
 * enough of the answer (status line, Content-Length, body) to count it,
 * rather than going through node:http's client: on this 2-core machine that
 * client cost about as much CPU per request as the responder it measured
 * (~70 % of a core at 3,800 requests/s), so it, not the responder, set the
 * figure. A server that closes the connection after each answer (`openssl
 * ocsp` does) gets a new connection per request, as from a firewall.
 *
 * With `close`, every request says `Connection: close` and goes on a new
 * connection, whatever the server would allow: a firewall that does not keep
 * its connections to the responder, and what `openssl ocsp` always gets.
 * The latency of a request on a new connection includes the connection's
 * set-up.
 *
 * Bounded by the deadline: a request not answered within GRACE_MS after it
 * counts as an error and its connection is dropped, so a server that accepts
 * and never answers ends the run too; a refused connection is retried after
 * RETRY_MS (errors, not a busy loop).
 *
 * usage: ocsp-client.ts URL REQUEST.der SECONDS CONCURRENCY [close]
 */
const [url, requestFile, seconds, concurrency, mode] = process.argv.slice(2)
if (mode !== undefined && mode !== 'close') {
  process.stderr.write(`ocsp-client.ts: the 5th argument is "close" or nothing, not ${JSON.stringify(mode)}\n`)
  process.exit(2)
}
const closeEach = mode === 'close'
const target = new URL(url!)
const body = readFileSync(requestFile!)
const request = Buffer.concat([
  Buffer.from(`POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\n${closeEach ? 'Connection: close\r\n' : ''}Content-Type: application/ocsp-request\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'),
  body,
])
const deadline = performance.now() + Number(seconds ?? 5) * 1000
/** How long after the deadline a request in flight may still be answered. */
const GRACE_MS = 2000
/** Pause before reconnecting after a connection that failed without an answer. */
const RETRY_MS = 20
const MAX_REQUESTS = 2_000_000
const latencies: number[] = []
let sent = 0
let answered = 0
let ok = 0
let errors = 0
let firstError: string | undefined

const HEADER_END = Buffer.from('\r\n\r\n')
const over = (): boolean => performance.now() >= deadline || sent >= MAX_REQUESTS

/** One answer parsed off the stream: its status, length, and whether the server keeps the connection. */
function parseHead(head: string): { status: number; length: number; keepAlive: boolean } | undefined {
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1])
  const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1])
  if (!status || Number.isNaN(length)) return undefined
  const http10 = head.startsWith('HTTP/1.0')
  const connection = /\r\nconnection:\s*([^\r]*)/i.exec(head)?.[1]?.toLowerCase()
  return { status, length, keepAlive: http10 ? connection === 'keep-alive' : connection !== 'close' }
}

function fail(message: string): void {
  errors++
  firstError ??= message
}

/** One loop: a connection used for request after request (one only with `close`), reopened whenever it is closed. */
function loop(): Promise<void> {
  return new Promise((resolve) => {
    let socket: net.Socket
    let buffered: Buffer = Buffer.alloc(0)
    let started = 0
    /** A request written on this socket and not answered yet. */
    let waiting = false
    /** This socket's answer said it ends here (or `close` mode ends it): its closing is no failure. */
    let done = false
    let socketError: string | undefined
    let finished = false
    const finish = (): void => {
      if (finished) return
      finished = true
      clearTimeout(stop)
      resolve()
    }
    // The bound for a server that never answers or never closes: at the deadline plus grace, whatever is open goes.
    const stop = setTimeout(() => {
      if (waiting) fail(`no answer within ${GRACE_MS} ms after the deadline`)
      waiting = false
      done = true
      socket.destroy()
      finish()
    }, deadline - performance.now() + GRACE_MS)
    const send = (): void => {
      if (over()) {
        done = true
        socket.destroy()
        return finish()
      }
      sent++
      waiting = true
      socket.write(request)
    }
    const open = (): void => {
      // A retry may be due after the bound above has ended this loop.
      if (finished) return
      buffered = Buffer.alloc(0)
      done = false
      socketError = undefined
      started = performance.now()
      socket = net.connect({ host: target.hostname, port: Number(target.port || 80) }, send)
      socket.setNoDelay(true)
      socket.on('data', (chunk: Buffer) => {
        if (!waiting) return
        buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk
        const end = buffered.indexOf(HEADER_END)
        if (end < 0) return
        const head = parseHead(buffered.subarray(0, end).toString('latin1'))
        if (!head) {
          fail(`unreadable answer: ${buffered.subarray(0, 80).toString('latin1')}`)
          waiting = false
          done = true
          socket.destroy()
          return
        }
        if (buffered.length < end + 4 + head.length) return
        waiting = false
        answered++
        latencies.push(performance.now() - started)
        if (head.status === 200) ok++
        else fail(`HTTP ${head.status}`)
        buffered = buffered.subarray(end + 4 + head.length)
        if (head.keepAlive && !closeEach) {
          started = performance.now()
          return send()
        }
        done = true
        // `close` mode against a server that would keep the connection: this side ends it.
        if (head.keepAlive) socket.end()
      })
      socket.on('error', (error) => (socketError ??= String(error)))
      socket.on('close', () => {
        const failed = !done
        if (failed) {
          // One error per failed connection, with the reason the socket gave, if any.
          fail(socketError ?? (waiting ? 'connection closed before the answer' : 'connection closed'))
          waiting = false
        }
        if (finished) return
        if (over()) return finish()
        if (failed) setTimeout(open, RETRY_MS)
        else open()
      })
    }
    open()
  })
}

const t0 = performance.now()
await Promise.all(Array.from({ length: Number(concurrency ?? 16) }, loop))
const elapsed = (performance.now() - t0) / 1000
latencies.sort((a, b) => a - b)
const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0
// perSecond counts only 200 answers; errors includes connections that failed before any answer.
const result: LoadResult = { requests: answered, errors, seconds: elapsed, perSecond: ok / elapsed, p50ms: q(0.5), p99ms: q(0.99), firstError }
process.stdout.write(`${JSON.stringify(result)}\n`)
// Sockets are all closed or destroyed by now; exit anyway so that a lingering handle cannot hold the run.
process.exit(0)
