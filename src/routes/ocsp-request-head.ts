import { MAX_OCSP_REQUEST_BYTES } from './ocsp.js'

/**
 * The one request head kagi's OCSP connections answer themselves
 * (ocsp-connections.ts): `POST /ocsp` in HTTP/1.1 with a Host, or HTTP/1.0
 * (what `openssl ocsp` sends), with a Content-Length and `Content-Type:
 * application/ocsp-request`. It is read strictly, more strictly than Node's
 * parser (llhttp): anything this reader is not sure of is left to Node's
 * HTTP server with the very bytes that came, so the two never frame a
 * request differently (request smuggling, RFC 9112 §11.2) and every odd
 * case still gets Node's and Fastify's answer (400, 413, 415, 431, chunked
 * bodies, Expect).
 */
const HTTP_1_1 = 'POST /ocsp HTTP/1.1\r\n'
const HTTP_1_0 = 'POST /ocsp HTTP/1.0\r\n'

/** Node's default --max-http-header-size: a longer head goes to Node, which answers 431. */
export const MAX_HEAD_BYTES = 16 * 1024

/** RFC 9110 §5.6.2 token characters: a header name is one or more of these. */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
/** A field value (RFC 9110 §5.5): visible characters, spaces and tabs; no CR, LF, NUL or other controls. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/
/** Headers whose presence means a case for Node: another framing or coding of the body, an upgrade, an interim answer. */
const LEFT_TO_NODE = new Set(['transfer-encoding', 'content-encoding', 'expect', 'upgrade'])

export interface OcspRequestHead {
  /** The body's length in bytes: 1 to MAX_OCSP_REQUEST_BYTES. */
  contentLength: number
  /**
   * The connection closes after the answer: HTTP/1.1 with `Connection:
   * close`, or HTTP/1.0 without `Connection: keep-alive` (RFC 9112 §9.3 and
   * Appendix C.2.2).
   */
  close: boolean
}

/**
 * The body both OCSP lanes take (this reader, and ocsp-fast-lane.ts on
 * Node's parsed headers): an OCSP request by its type, 1 byte to
 * MAX_OCSP_REQUEST_BYTES long. Fastify's route answers the others (415, 413).
 */
export function isPlainOcspBody(contentType: string | undefined, contentLength: number | undefined): boolean {
  return contentType?.toLowerCase() === 'application/ocsp-request' && contentLength !== undefined && Number.isInteger(contentLength) && contentLength >= 1 && contentLength <= MAX_OCSP_REQUEST_BYTES
}

/**
 * Whether the bytes received so far can still begin one of the request
 * lines above: a connection that cannot is given to Node at its first bytes.
 */
export function mayBeOcspRequest(received: Buffer): boolean {
  const text = received.toString('latin1', 0, Math.min(received.length, HTTP_1_1.length))
  return HTTP_1_1.startsWith(text) || HTTP_1_0.startsWith(text)
}

/**
 * Reads a complete head (the bytes before the blank line, without it).
 * Undefined means "not the plain case": the connection goes to Node as it is.
 */
export function readOcspRequestHead(head: string): OcspRequestHead | undefined {
  const http10 = head.startsWith(HTTP_1_0)
  if (!http10 && !head.startsWith(HTTP_1_1)) return undefined
  let contentLength: number | undefined
  let contentType: string | undefined
  let hosts = 0
  let close = false
  let keepAlive = false
  for (const line of head.slice(HTTP_1_1.length).split('\r\n')) {
    const colon = line.indexOf(':')
    // No colon, a bare CR or LF, or a line folded onto the one before (obs-fold, RFC 9112 §5.2): Node decides.
    if (colon <= 0) return undefined
    const name = line.slice(0, colon)
    if (!FIELD_NAME.test(name)) return undefined
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')
    if (!FIELD_VALUE.test(value)) return undefined
    const lower = name.toLowerCase()
    if (LEFT_TO_NODE.has(lower)) return undefined
    if (lower === 'content-length') {
      // Exactly one, digits only (RFC 9112 §6.3: a list or a repeat is an error there, and Node's to report).
      if (contentLength !== undefined || !/^\d{1,5}$/.test(value)) return undefined
      contentLength = Number(value)
    } else if (lower === 'content-type') {
      if (contentType !== undefined) return undefined
      contentType = value
    } else if (lower === 'host') {
      hosts++
    } else if (lower === 'connection') {
      const options = value.toLowerCase().split(',').map((option) => option.trim())
      if (options.includes('upgrade')) return undefined
      if (options.includes('close')) close = true
      if (options.includes('keep-alive')) keepAlive = true
    }
  }
  // RFC 9112 §3.2: an HTTP/1.1 request carries exactly one Host (Node answers 400 otherwise); HTTP/1.0 at most one.
  if (http10 ? hosts > 1 : hosts !== 1) return undefined
  if (!isPlainOcspBody(contentType, contentLength)) return undefined
  return { contentLength: contentLength!, close: close || (http10 && !keepAlive) }
}
