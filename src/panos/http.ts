import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { PanosError } from './errors.js'

/** Where requests go and how they are bounded. */
export interface Endpoint {
  /** Base URL, e.g. https://fw.example.com (no trailing slash). */
  url: string
  /** PEM CA certificate(s) that must verify the firewall; unset uses Node's built-in roots. Verification is never off. */
  caPem?: string
  /** Deadline for the whole exchange (connect, send, receive). */
  timeoutMs: number
}

/** An HTTP answer, body as text. */
export interface HttpAnswer {
  status: number
  body: string
}

/** XML API answers are small; a larger body means something other than PAN-OS is answering. */
const MAX_BODY = 32 * 1024 * 1024

/** Error codes Node gives for a certificate that does not verify (tls.TLSSocket authorizationError). */
const TLS_CODES = /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT(_LOCALLY)?|DECRYPT_CERT_SIGNATURE)|CERT_\w+|ERR_TLS_\w+|ERR_SSL_\w+|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE)$/
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED'])

class Deadline extends Error {}

function transportError(error: NodeJS.ErrnoException, endpoint: Endpoint): PanosError {
  const origin = new URL(endpoint.url).origin
  if (error instanceof Deadline) {
    return new PanosError('timeout', `no answer from ${origin} within ${endpoint.timeoutMs / 1000} s (the firewall is slow or a firewall in between drops the traffic)`)
  }
  const code = error.code ?? ''
  if (TLS_CODES.test(code)) {
    return new PanosError(
      'tls',
      `the TLS certificate of ${origin} did not verify (${code}: ${error.message}); set KAGI_PANOS_CA_FILE to the CA certificate that issued it (for a self-signed firewall certificate, that certificate itself)`,
    )
  }
  if (UNREACHABLE_CODES.has(code) || /socket hang up/i.test(error.message)) {
    return new PanosError('unreachable', `cannot reach ${origin} (${code || error.message}); check KAGI_PANOS_URL and that this host may reach the firewall's management interface`)
  }
  return new PanosError('unreachable', `request to ${origin} failed: ${error.message}`)
}

/**
 * POSTs `body` to `path` (relative to the base URL) and returns the answer.
 * TLS certificates are always verified (against `caPem` when given); every
 * failure becomes a PanosError with a plain message that names the host, never
 * a header or the body (which may carry the API key or a password).
 */
export function post(endpoint: Endpoint, path: string, body: Buffer, headers: Record<string, string>): Promise<HttpAnswer> {
  const url = new URL(path, `${endpoint.url}/`)
  const https = url.protocol === 'https:'
  return new Promise((resolve, reject) => {
    let settled = false
    const finish = (error: PanosError | undefined, answer?: HttpAnswer) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (error) reject(error)
      else resolve(answer!)
    }
    const options = {
      method: 'POST',
      headers: { ...headers, 'content-length': String(body.length) },
      agent: false as const,
      ...(https ? { ca: endpoint.caPem, rejectUnauthorized: true } : {}),
    }
    const req = (https ? httpsRequest : httpRequest)(url, options, (res: IncomingMessage) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_BODY) {
          finish(new PanosError('protocol', `the answer from ${url.origin} is larger than ${MAX_BODY / 1024 / 1024} MiB; is KAGI_PANOS_URL a PAN-OS firewall?`))
          req.destroy()
        } else chunks.push(chunk)
      })
      res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', (error) => finish(transportError(error, endpoint)))
      res.on('close', () => {
        if (!res.complete) finish(transportError(Object.assign(new Error('the connection closed before the answer was complete'), { code: 'ECONNRESET' }), endpoint))
      })
    })
    const timer = setTimeout(() => {
      finish(transportError(new Deadline(), endpoint))
      req.destroy()
    }, endpoint.timeoutMs)
    req.on('error', (error) => finish(transportError(error, endpoint)))
    req.end(body)
  })
}
