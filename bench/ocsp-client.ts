import { readFileSync } from 'node:fs'
import { load } from './load.js'

/**
 * Load client for OCSP responders: POSTs one saved request for N seconds and
 * prints the result as JSON. Runs inside the network namespace of the
 * openssl peer too, so both responders are measured by the same client.
 * usage: ocsp-client.ts URL REQUEST.der SECONDS CONCURRENCY
 */
const [url, requestFile, seconds, concurrency] = process.argv.slice(2)
const body = readFileSync(requestFile!)
const result = await load({
  url: url!,
  method: 'POST',
  headers: { 'content-type': 'application/ocsp-request' },
  body: () => body,
  concurrency: Number(concurrency ?? 16),
  seconds: Number(seconds ?? 5),
  maxRequests: 1_000_000,
})
process.stdout.write(`${JSON.stringify(result)}\n`)
