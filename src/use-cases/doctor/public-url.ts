import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { certificateInfo, parseCrl, readTime, serialToHex, type CertificateInfo } from '../../../ca/index.js'
import { children, readOne } from '../../../ca/der.js'
import { latestIssuedDer } from '../../db/ca-repository.js'
import type { Database } from '../../db/database.js'
import { readOcspAnswer, ocspProbe } from './ocsp-probe.js'
import { signedPartVerifies } from './signature.js'
import { describe, fail, NETWORK_TIMEOUT_MS, ok, warn, type CheckResult } from './types.js'

/** What doctor says to do when the public URL does not lead to this kagi. */
const reachFix = (publicUrl: string): string =>
  `check that kagi serve is running and that ${publicUrl} (the CA's public URL, named by every certificate; \`kagi ca show\`) reaches it from here (DNS, proxy, firewall); change it with \`kagi ca set-public-url\``

/** One bounded request; the answer's body, or a failed check naming the URL. */
async function request(name: string, url: string, publicUrl: string, init: RequestInit = {}): Promise<{ body: Buffer; type: string } | CheckResult> {
  let response: Response
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(NETWORK_TIMEOUT_MS) })
  } catch (error) {
    const why = (error as Error).name === 'TimeoutError' ? `no answer within ${NETWORK_TIMEOUT_MS / 1000} s` : describe(error)
    return fail(name, `cannot reach ${url}: ${why}`, reachFix(publicUrl))
  }
  const body = Buffer.from(await response.arrayBuffer())
  if (response.status !== 200) return fail(name, `${url} answered HTTP ${response.status}, not the ${name.split(': ')[1]}`, reachFix(publicUrl))
  return { body, type: response.headers.get('content-type') ?? '' }
}

/**
 * GET <public URL>/pki/crl, as devices and firewalls do: it must be a CRL
 * (RFC 5280 §5.1) of the issuing CA, whose signature verifies under the
 * issuing CA's key, and current (nextUpdate in the future: PAN-OS treats a
 * stale CRL as unavailable, and may then refuse every certificate).
 */
export async function checkCrl(publicUrl: string, issuing: CertificateInfo, now: Date): Promise<CheckResult> {
  const name = 'public URL: CRL'
  const url = `${publicUrl}/pki/crl`
  const got = await request(name, url, publicUrl)
  if ('status' in got) return got
  let fields
  try {
    const [tbs, algorithm, signature] = children(readOne(got.body))
    const parts = children(tbs!)
    const [, , issuer, thisUpdate, nextUpdate] = parts[0]?.tag === 0x02 ? parts : [undefined, ...parts]
    fields = { tbs: tbs!, algorithm: algorithm!, signature: signature!, issuer: issuer!, thisUpdate: readTime(thisUpdate!), nextUpdate: nextUpdate && readTime(nextUpdate) }
  } catch {
    return fail(name, `${url} answered something that is not a DER CRL (${got.type || 'no content type'}, ${got.body.length} bytes)`, reachFix(publicUrl))
  }
  if (!fields.issuer.raw.equals(issuing.subject) || !signedPartVerifies(fields.tbs.raw, fields.algorithm, fields.signature, issuing.publicKeyInfo)) {
    return fail(name, `the CRL at ${url} is not signed by this kagi's issuing CA: the URL reaches another CA or another kagi`, reachFix(publicUrl))
  }
  if (!fields.nextUpdate || fields.nextUpdate <= now) {
    return fail(name, `the CRL at ${url} is stale (nextUpdate ${fields.nextUpdate?.toISOString() ?? 'absent'})`, 'check kagi serve\'s log for CRL signing errors; `kagi revoke` or a restart re-signs it')
  }
  const { crlNumber, entries } = parseCrl(got.body)
  return ok(name, `${url}: CRL number ${crlNumber ?? '?'} signed by the issuing CA, ${entries.length} revoked, next update ${fields.nextUpdate.toISOString()}`)
}

/**
 * POST <public URL>/ocsp (RFC 6960 Appendix A.1) about the certificate the
 * issuing CA signed last (a serial kagi knows: the answer must be good or
 * revoked), or, when it signed none yet, about a random serial (the answer
 * must be unknown: never good for a serial kagi did not issue). The answer
 * must be signed for this request (its nonce) by a responder the issuing CA
 * authorised, and current.
 */
export async function checkOcsp(publicUrl: string, issuing: CertificateInfo, db: Kysely<Database>, now: Date): Promise<CheckResult> {
  const name = 'public URL: OCSP'
  const url = `${publicUrl}/ocsp`
  const last = await latestIssuedDer(db, serialToHex(issuing.serial))
  const serial = last ? certificateInfo(last).serial : Buffer.concat([Buffer.from([0x4d]), randomBytes(15)])
  const probe = ocspProbe(issuing, serial)
  const got = await request(name, url, publicUrl, { method: 'POST', body: new Uint8Array(probe.der), headers: { 'content-type': 'application/ocsp-request' } })
  if ('status' in got) return got
  const verdict = readOcspAnswer(got.body, probe, issuing, now)
  if (verdict.kind === 'problem') return fail(name, `${url}: ${verdict.problem}`, reachFix(publicUrl))
  const about = last ? `the last certificate issued (serial ${probe.serial})` : `a serial never issued`
  const expected = last ? verdict.status !== 'unknown' : verdict.status === 'unknown'
  if (!expected) {
    return fail(name, `${url} answered "${verdict.status}" about ${about}: the URL reaches a responder with another database`, reachFix(publicUrl))
  }
  if (verdict.nextUpdate && verdict.nextUpdate <= now) return fail(name, `${url} answered with a stale response (nextUpdate ${verdict.nextUpdate.toISOString()})`, 'an HTTP cache between clients and kagi may be serving old answers; check kagi serve\'s log')
  const text = `${url}: "${verdict.status}" about ${about}, signed by ${verdict.responder}`
  if (!verdict.nonceEchoed) return warn(name, `${text}, but the nonce was not echoed`, 'something between clients and kagi (a cache or proxy) answers OCSP requests itself; PAN-OS sends nonces and may reject such answers')
  return ok(name, text)
}
