import http, { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { MAX_HEAD_BYTES, mayBeOcspRequest, readOcspRequestHead } from './ocsp-request-head.js'

/** One HTTP answer to an OCSP request: its status, headers (lower-case names) and body. */
export interface OcspHttpReply {
  status: number
  headers: Record<string, string>
  payload: Buffer
}

/** What a connection needs of the lane: an answer to one body (never rejected), and whether kagi is shutting down. */
export interface OcspConnectionLane {
  answer(der: Buffer, started: number): Promise<OcspHttpReply>
  draining(): boolean
}

const HEAD_END = Buffer.from('\r\n\r\n')

/** The Date header (RFC 9110 §6.6.1) has a one-second resolution: made once a second, not per answer. */
let dateSecond = 0
let dateValue = ''
function httpDate(): string {
  const now = Date.now()
  const second = Math.floor(now / 1000)
  if (second !== dateSecond) {
    dateSecond = second
    dateValue = new Date(now).toUTCString()
  }
  return dateValue
}

/**
 * OCSP on kagi's own connections: each new connection of the HTTP server
 * is read here first, and while it carries only `POST /ocsp` requests of
 * the plain kind (ocsp-request-head.ts) kagi answers them itself, without
 * Node's HTTP machinery (its parser, IncomingMessage and ServerResponse
 * streams, events); at the first byte of anything else the connection is
 * given to Node's HTTP server with the bytes read so far put back, and stays
 * there. Node's server costs ~35 µs of CPU per request here, about as much
 * as the ECDSA signature of a fresh answer (~30 µs) and more than a cached
 * answer (~5 µs); a VPN gateway asks on every connection it accepts.
 *
 * It keeps what Node's server guarantees: requests on a connection are
 * answered in order, one at a time (pipelined ones wait, and the socket is
 * not read meanwhile); an answer not read by the client stops reading until
 * it drains; a request must arrive whole within the server's headersTimeout
 * and an idle connection closes after keepAliveTimeout; `Connection: close`
 * is honoured; closing the server ends idle connections at once and busy
 * ones after their answer (server.close, closeIdleConnections and
 * closeAllConnections all see them).
 */
export function answerOcspConnections(server: http.Server, lane: OcspConnectionLane): void {
  const toNode = server.listeners('connection') as ((socket: Socket) => void)[]
  server.removeAllListeners('connection')
  const open = new Set<Connection>()
  const batch = new AnswerBatch()
  let closing = false
  const give = (socket: Socket): void => {
    for (const listener of toNode) listener.call(server, socket)
  }
  server.on('connection', (socket: Socket) => {
    const connection = new Connection(socket, server, lane, batch, give, () => open.delete(connection))
    open.add(connection)
    if (closing) connection.closeWhenIdle()
  })
  const closeIdle = server.closeIdleConnections.bind(server)
  const closeAll = server.closeAllConnections.bind(server)
  // server.close() calls closeIdleConnections (Node ≥ 19), so Fastify's close reaches these too.
  server.closeIdleConnections = () => {
    closing = true
    for (const connection of open) connection.closeWhenIdle()
    closeIdle()
  }
  server.closeAllConnections = () => {
    closing = true
    for (const connection of open) connection.socket.destroy()
    closeAll()
  }
}

/**
 * Answers are written at the end of the event loop's turn, all those ready
 * in it together, rather than each as soon as it is signed. A write to a
 * loopback or LAN peer that sleeps waiting for it wakes that peer inside the
 * write (sock_def_readable, try_to_wake_up: an inter-processor interrupt,
 * which a virtual machine pays dearly for): perf put that wake-up at ~17 µs
 * of the ~86 µs a fresh answer cost the server here, paid again for each of
 * the 16 connections answered in the same turn. Written back to back, only
 * the first finds the client asleep. setImmediate runs right after the poll
 * phase, so an answer waits only for the others read in the same turn (a
 * fresh answer each: tens of microseconds), never for a timer. Measured
 * with bench/ocsp-client.ts on 2 cores: fresh answers 11,700 -> 15,900/s,
 * the client's CPU per answer 25 -> 13 µs; cached answers unchanged.
 */
class AnswerBatch {
  private pending: [Connection, OcspHttpReply][] = []
  private readonly flush = (): void => {
    const ready = this.pending
    this.pending = []
    for (const [connection, reply] of ready) connection.write(reply)
  }

  add(connection: Connection, reply: OcspHttpReply): void {
    if (this.pending.push([connection, reply]) === 1) setImmediate(this.flush)
  }
}

class Connection {
  private buffered: Buffer | undefined
  /** A request is being answered: nothing more is read until its answer is written. */
  private busy = false
  private ending = false
  private closeAfterAnswer = false
  private requestTimer: NodeJS.Timeout | undefined
  private readonly onData = (chunk: Buffer): void => this.received(chunk)
  private readonly onError = (): void => void this.socket.destroy()
  private readonly onTimeout = (): void => void this.socket.destroy()
  /** HTTP servers allow half-open sockets: a client's FIN closes this side too, after the answer in progress, if any. */
  private readonly onEnd = (): void => {
    if (this.busy) this.closeAfterAnswer = true
    else this.socket.destroy()
  }

  constructor(
    readonly socket: Socket,
    private readonly server: http.Server,
    private readonly lane: OcspConnectionLane,
    private readonly batch: AnswerBatch,
    private readonly give: (socket: Socket) => void,
    private readonly forget: () => void,
  ) {
    socket.setNoDelay(true)
    socket.on('data', this.onData)
    socket.on('error', this.onError)
    socket.on('timeout', this.onTimeout)
    socket.on('end', this.onEnd)
    socket.once('close', () => this.gone())
    this.idle()
  }

  /** As Node's closeIdleConnections: an idle connection is destroyed now, a busy one after its answer. */
  closeWhenIdle(): void {
    if (this.busy || this.buffered) this.closeAfterAnswer = true
    else this.socket.destroy()
  }

  private received(chunk: Buffer): void {
    this.buffered = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk
    this.next()
  }

  /**
   * Part of a request is here (just read, or left behind a pipelined one):
   * all of it must come within the server's headersTimeout of its first
   * bytes, or the connection closes (slow clients, as Node's server does).
   */
  private awaitRest(): void {
    if (this.requestTimer !== undefined) return
    this.socket.setTimeout(0)
    this.requestTimer = setTimeout(() => this.socket.destroy(), this.server.headersTimeout || 60_000)
    this.requestTimer.unref()
  }

  /** Answers the next whole request buffered, gives the connection to Node, or waits for more bytes. */
  private next(): void {
    const bytes = this.buffered
    if (this.busy || this.ending || !bytes) return
    if (!mayBeOcspRequest(bytes) || this.lane.draining()) return this.toNode()
    const end = bytes.indexOf(HEAD_END)
    // A head longer than Node's limit, whole or not, is Node's to refuse (431).
    if (end < 0 ? bytes.length > MAX_HEAD_BYTES : end > MAX_HEAD_BYTES) return this.toNode()
    if (end < 0) return this.awaitRest()
    const head = readOcspRequestHead(bytes.toString('latin1', 0, end))
    if (!head) return this.toNode()
    const bodyStart = end + HEAD_END.length
    if (bytes.length < bodyStart + head.contentLength) return this.awaitRest()
    const started = performance.now()
    // A copy: the rest of `bytes` (a pipelined request) must not pin or share this body.
    const body = Buffer.from(bytes.subarray(bodyStart, bodyStart + head.contentLength))
    this.buffered = bytes.length > bodyStart + head.contentLength ? bytes.subarray(bodyStart + head.contentLength) : undefined
    clearTimeout(this.requestTimer)
    this.requestTimer = undefined
    this.busy = true
    this.socket.pause()
    if (head.close) this.closeAfterAnswer = true
    // The lane turns every failure into an answer (the error table); a throw here would be a bug: drop the connection, never hang it.
    this.lane.answer(body, started).then(
      (reply) => this.batch.add(this, reply),
      () => this.socket.destroy(),
    )
  }

  /** Writes an answer (called by the batch at the end of the turn); the connection is no longer busy. */
  write(reply: OcspHttpReply): void {
    this.busy = false
    if (this.socket.destroyed) return
    const close = this.closeAfterAnswer
    let head = `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? ''}\r\n`
    for (const name in reply.headers) head += `${name}: ${reply.headers[name]}\r\n`
    head += `content-length: ${reply.payload.length}\r\ndate: ${httpDate()}\r\n`
    head += close ? 'connection: close\r\n\r\n' : `connection: keep-alive\r\nkeep-alive: timeout=${Math.floor(this.server.keepAliveTimeout / 1000)}\r\n\r\n`
    const headBytes = Buffer.byteLength(head, 'latin1')
    const message = Buffer.allocUnsafe(headBytes + reply.payload.length)
    message.write(head, 0, 'latin1')
    reply.payload.copy(message, headBytes)
    const flushed = this.socket.write(message)
    if (close) return this.end()
    const resume = (): void => {
      if (this.socket.destroyed) return
      if (!this.buffered) this.idle()
      this.socket.resume()
      this.next()
    }
    // A client that does not read its answers is not read either, until they drain.
    if (flushed) resume()
    else this.socket.once('drain', resume)
  }

  /** Between requests: the connection closes after the server's keepAliveTimeout without a byte. */
  private idle(): void {
    this.socket.setTimeout(this.server.keepAliveTimeout)
  }

  /** After an answer that said `connection: close`: the socket ends once it is written, as Node's server does. */
  private end(): void {
    this.ending = true
    this.buffered = undefined
    clearTimeout(this.requestTimer)
    this.socket.removeListener('data', this.onData)
    this.socket.destroySoon()
  }

  /**
   * Node's HTTP server takes the connection from here on: the bytes read so
   * far go back to the front of the socket, and the server's own connection
   * listener starts on it as on a new connection (its timeouts included).
   */
  private toNode(): void {
    this.ending = true
    clearTimeout(this.requestTimer)
    this.socket.setTimeout(0)
    this.socket.pause()
    this.socket.removeListener('data', this.onData)
    this.socket.removeListener('error', this.onError)
    this.socket.removeListener('timeout', this.onTimeout)
    this.socket.removeListener('end', this.onEnd)
    this.forget()
    const bytes = this.buffered
    this.buffered = undefined
    if (bytes) this.socket.unshift(bytes)
    this.give(this.socket)
    this.socket.resume()
  }

  private gone(): void {
    clearTimeout(this.requestTimer)
    this.forget()
  }
}
