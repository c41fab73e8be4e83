import { readFileSync } from 'node:fs'
import { load } from './load.js'

/**
 * Load client for SCEP servers: POSTs pre-built PKIOperation bodies, each once, for N seconds
 * (or until they run out) and prints the result as JSON. A reply counts only if its pkiStatus
 * is SUCCESS. Runs inside the network namespace of the scepserver peer too, so both servers are
 * measured by the same client.
 * The first WARMUP bodies are sent before the clock starts.
 * usage: scep-client.ts URL BODIES SECONDS CONCURRENCY [WARMUP]   (BODIES: each a 4-byte big-endian length, then the DER)
 */
const [url, bodiesFile, seconds, concurrency, warmupArg] = process.argv.slice(2)
const all = readFileSync(bodiesFile!)
const bodies: Buffer[] = []
for (let at = 0; at + 4 <= all.length && bodies.length < 1_000_000; ) {
  const length = all.readUInt32BE(at)
  bodies.push(all.subarray(at + 4, at + 4 + length))
  at += 4 + length
}

/** pkiStatus (2.16.840.1.113733.1.9.3) as DER, then its SET and a one-character string: "0" is SUCCESS (RFC 8894 §3.2.1.3). */
const PKI_STATUS = Buffer.from('060a6086480186f845010903', 'hex')
function pkiStatus(reply: Buffer): string | undefined {
  const at = reply.indexOf(PKI_STATUS)
  if (at < 0) return undefined
  const set = at + PKI_STATUS.length
  if (reply[set] !== 0x31) return undefined
  const value = set + 2
  return reply.subarray(value + 2, value + 2 + reply[value + 1]!).toString('latin1')
}

const run = (from: number, count: number, runSeconds: number) =>
  load({
    url: url!,
    method: 'POST',
    headers: { 'content-type': 'application/x-pki-message' },
    body: (i) => bodies[from + i],
    concurrency: Number(concurrency ?? 16),
    seconds: runSeconds,
    maxRequests: count,
    check: (_status, reply) => {
      const status = pkiStatus(reply)
      return status === '0' ? undefined : `pkiStatus ${status ?? '(none)'}`
    },
  })
const warmup = Math.min(Number(warmupArg ?? 0), bodies.length)
const warm = warmup > 0 ? await run(0, warmup, 60) : undefined
const result = await run(warmup, bodies.length - warmup, Number(seconds ?? 5))
process.stdout.write(`${JSON.stringify({ ...result, warmupErrors: warm?.errors ?? 0, warmupFirstError: warm?.firstError })}\n`)
