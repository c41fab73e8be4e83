import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { run, runAsync, type RunResult } from './openssl.js'

/** A certificate the test holds the key of: the PEM files curl and openssl read. */
export interface HeldCertificate {
  serial: string
  certPath: string
  keyPath: string
  pem: string
}

/** Runs a tool without blocking the event loop (the server under test is in this process), with stdin. */
export const runWithInput = (command: string, args: readonly string[], input = ''): Promise<RunResult> => runAsync(command, args, input)

/** Issues a kagi certificate through the API for a key made by openssl (the test keeps the key). */
export async function issueThroughApi(
  app: FastifyInstance,
  headers: Record<string, string>,
  dir: string,
  name: string,
  body: { profile: 'user' | 'device'; user: string; device?: { name: string; platform: string; hostname?: string } },
): Promise<HeldCertificate> {
  const keyPath = join(dir, `${name}.key`)
  const req = run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-subj', '/CN=ignored'])
  if (req.status !== 0) throw new Error(`openssl req failed: ${req.stderr}`)
  const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers, payload: { ...body, csr: req.stdout } })
  if (res.statusCode !== 201) throw new Error(`issuance failed: ${res.statusCode} ${res.body}`)
  const { serial, certificate } = res.json() as { serial: string; certificate: string }
  const certPath = join(dir, `${name}.pem`)
  writeFileSync(certPath, certificate)
  return { serial, certPath, keyPath, pem: certificate }
}

/** A self-signed "other company" CA and a client certificate it issued, made with openssl. */
export function foreignCertificate(dir: string): { certPath: string; keyPath: string; pem: string } {
  const caKey = join(dir, 'foreign-ca.key')
  const caCert = join(dir, 'foreign-ca.pem')
  const keyPath = join(dir, 'foreign.key')
  const csrPath = join(dir, 'foreign.csr')
  const certPath = join(dir, 'foreign.pem')
  const steps: string[][] = [
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caCert, '-subj', '/O=Other Corp/CN=Other Corp CA', '-days', '30'],
    ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', csrPath, '-subj', '/CN=alice@example.com'],
    ['x509', '-req', '-in', csrPath, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', certPath, '-days', '30'],
  ]
  for (const args of steps) {
    const r = run('openssl', args)
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`)
  }
  return { certPath, keyPath, pem: readFileSync(certPath, 'utf8') }
}
