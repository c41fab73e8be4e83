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
 * usage: ocsp-client.ts URL REQUEST.der SECONDS CONCURRENCY
 */
const [url, requestFile, seconds, concurrency] = process.argv.slice(2)
const target = new URL(url!)
const body = readFileSync(requestFile!)
const request = Buffer.concat([
  Buffer.from(`POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'),
  body,
])
const deadline = performance.now() + Number(seconds ?? 5) * 1000
const MAX_REQUESTS = 2_000_000
const latencies: number[] = []
let sent = 0
let errors = 0
let firstError: string | undefined

const HEADER_END = Buffer.from('\r\n\r\n')

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

/** One loop: a connection used for request after request, reopened whenever the server closes it. */
function loop(): Promise<void> {
  return new Promise((resolve) => {
    let socket: net.Socket
    let buffered = Buffer.alloc(0)
    let started = 0
    let expectClose = false
    const next = (): void => {
      if (performance.now() >= deadline || sent >= MAX_REQUESTS) {
        socket.destroy()
        return resolve()
      }
      sent++
      started = performance.now()
      socket.write(request)
    }
    const open = (): void => {
      buffered = Buffer.alloc(0)
      expectClose = false
      socket = net.connect({ host: target.hostname, port: Number(target.port || 80) }, next)
      socket.setNoDelay(true)
      socket.on('data', (chunk: Buffer) => {
        buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk
        const end = buffered.indexOf(HEADER_END)
        if (end < 0) return
        const head = parseHead(buffered.subarray(0, end).toString('latin1'))
        if (!head) {
          fail(`unreadable answer: ${buffered.subarray(0, 80).toString('latin1')}`)
          socket.destroy()
          return
        }
        if (buffered.length < end + 4 + head.length) return
        latencies.push(performance.now() - started)
        if (head.status !== 200) fail(`HTTP ${head.status}`)
        buffered = buffered.subarray(end + 4 + head.length)
        if (head.keepAlive) next()
        else expectClose = true
      })
      socket.on('error', (error) => fail(String(error)))
      socket.on('close', () => {
        if (performance.now() >= deadline || sent >= MAX_REQUESTS) return resolve()
        if (!expectClose) fail('connection closed before the answer')
        open()
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
const answered = latencies.length
const result: LoadResult = { requests: answered, errors, seconds: elapsed, perSecond: (answered - errors) / elapsed, p50ms: q(0.5), p99ms: q(0.99), firstError }
process.stdout.write(`${JSON.stringify(result)}\n`)
