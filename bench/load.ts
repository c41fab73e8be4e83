import http from 'node:http'

/** Result of a closed-loop load run. */
export interface LoadResult {
  requests: number
  errors: number
  seconds: number
  perSecond: number
  p50ms: number
  p99ms: number
  firstError?: string
}

/**
 * Sends requests from `concurrency` parallel loops over keep-alive
 * connections for `seconds` (bounded also by `maxRequests`), counting 2xx as
 * success (and what `check` accepts, when given).
 */
export async function load(options: {
  url: string
  method: 'GET' | 'POST'
  headers: Record<string, string>
  body: (i: number) => string | Buffer | undefined
  concurrency: number
  seconds: number
  maxRequests: number
  /** Judges a 2xx answer further (a SCEP FAILURE is a 200): an error text, or undefined for a success. */
  check?: (status: number, body: Buffer) => string | undefined
}): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency })
  const target = new URL(options.url)
  const latencies: number[] = []
  let sent = 0
  let errors = 0
  let firstError: string | undefined
  const started = performance.now()
  const deadline = started + options.seconds * 1000
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const body = options.body(i)
      const t0 = performance.now()
      const req = http.request(
        { agent, hostname: target.hostname, port: target.port, path: target.pathname + target.search, method: options.method, headers: { ...options.headers, ...(body ? { 'content-length': Buffer.byteLength(body) } : {}) } },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c) => chunks.push(c))
          res.on('end', () => {
            latencies.push(performance.now() - t0)
            if (!res.statusCode || res.statusCode >= 300) {
              errors++
              firstError ??= `${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 200)}`
            } else if (options.check) {
              const problem = options.check(res.statusCode, Buffer.concat(chunks))
              if (problem) {
                errors++
                firstError ??= problem
              }
            }
            resolve()
          })
        },
      )
      req.on('error', (e) => {
        errors++
        firstError ??= String(e)
        resolve()
      })
      if (body) req.write(body)
      req.end()
    })
  const loops = Array.from({ length: options.concurrency }, async () => {
    while (performance.now() < deadline && sent < options.maxRequests) await one(sent++)
  })
  await Promise.all(loops)
  const seconds = (performance.now() - started) / 1000
  agent.destroy()
  latencies.sort((a, b) => a - b)
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0
  return { requests: sent, errors, seconds, perSecond: (sent - errors) / seconds, p50ms: q(0.5), p99ms: q(0.99), firstError }
}
