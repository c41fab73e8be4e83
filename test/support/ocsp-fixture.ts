import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import type { KagiServices } from '../../src/startup/services.js'
import { opensslCsr, run, tempDir } from './openssl.js'

/**
 * One certificate issued through the API and an `openssl ocsp -nonce`
 * request about it, for the tests that speak OCSP over a socket; `verdict`
 * is what openssl makes of an answer (verified against kagi's root, and the
 * leaf's status).
 */
export async function ocspFixture(
  t: { teardown: (fn: () => void) => void; equal: (a: unknown, b: unknown) => void },
  app: FastifyInstance,
  services: KagiServices,
  admin: Record<string, string>,
  user: string,
): Promise<{ nonceRequest: Buffer<ArrayBuffer>; verdict: (name: string, der: Buffer) => string }> {
  const dir = tempDir(t)
  const csr = opensslCsr(dir.dir, 'ec:P-256')
  const issued = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: admin, payload: { profile: 'user', user, csr } })
  t.equal(issued.statusCode, 201)
  const leaf = dir.file('leaf.pem', issued.json().certificate)
  const [issuingPem, rootPem] = services.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g)!
  const issuing = dir.file('issuing.pem', issuingPem!)
  const root = dir.file('root.pem', rootPem!)
  t.equal(run('openssl', ['ocsp', '-issuer', issuing, '-cert', leaf, '-nonce', '-reqout', `${dir.dir}/nonce.der`]).status, 0)
  return {
    nonceRequest: readFileSync(`${dir.dir}/nonce.der`),
    verdict: (name, der) => {
      const r = run('openssl', ['ocsp', '-respin', dir.file(name, der), '-issuer', issuing, '-cert', leaf, '-CAfile', root, '-verify_other', issuing, '-no_nonce'])
      return `${r.stdout}${r.stderr}`
    },
  }
}
