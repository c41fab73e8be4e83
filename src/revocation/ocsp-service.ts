import type { Kysely } from 'kysely'
import {
  buildOcspResponse,
  certIdMatchesIssuer,
  issuerHashes,
  ocspErrorResponse,
  OcspMalformedError,
  parseOcspRequest,
  serialToHex,
  softwareSigner,
  type CertificateInfo,
  type OcspCertStatus,
  type OcspIssuerHashes,
  type OcspSingleAnswer,
  type RevocationReason,
  type Signer,
} from '../../ca/index.js'
import type { Database } from '../db/database.js'
import { statusesOf } from '../db/revocation-repository.js'
import type { Credential, ServiceCredential } from '../use-cases/service-credentials.js'

/** An OCSP answer ready to send, and until when a cache may keep it (undefined: do not cache). */
export interface OcspReply {
  der: Buffer
  cacheUntil?: Date
}

const MAX_CACHED = 100_000

type StatusRow = Awaited<ReturnType<typeof statusesOf>>[number]

interface Responder {
  credential: Credential
  signer: Signer
}

/**
 * The OCSP responder (RFC 6960): answers from the certificate table, signs
 * with a delegated responder certificate (a service credential, profile
 * ocsp-signer, renewed automatically), echoes nonces, and never says "good"
 * for a serial kagi did not issue.
 *
 * Caching: an answer to a single-certificate request without a nonce is kept
 * (pre-signed) until half of its validity; a revocation drops the cached
 * answer for that serial at once. Requests with a nonce are always signed
 * fresh, as the nonce demands (PAN-OS sends one by default; an ECDSA
 * signature costs tens of microseconds).
 */
export class OcspService {
  private responder?: Responder
  private readonly hashes: OcspIssuerHashes
  private readonly retired: OcspIssuerHashes[]
  private readonly cache = new Map<string, { reply: OcspReply; serial: string }>()
  private readonly keysBySerial = new Map<string, Set<string>>()
  /**
   * Status rows of serials kagi issued, so that fresh (nonce) answers need no
   * query. Only found rows are kept: a serial issued a moment ago must never
   * be answered "unknown" from a stale cache. Dropped on revocation.
   */
  private readonly statuses = new Map<string, StatusRow>()
  /**
   * Bumped by every invalidation: an answer computed from rows read before a
   * revocation is sent but never cached (it would outlive the invalidation).
   */
  private generation = 0

  constructor(
    private readonly db: Kysely<Database>,
    private readonly deps: {
      issuing: CertificateInfo
      /** Issuing CAs kagi used before (their certificates can no longer get delegated answers). */
      retiredIssuers: readonly CertificateInfo[]
      /** The delegated responder certificate and key (see ocspResponderCredential). */
      responder: ServiceCredential
      validityMs: number
      now?: () => Date
    },
  ) {
    this.hashes = issuerHashes(deps.issuing.subject, deps.issuing.publicKeyInfo)
    this.retired = deps.retiredIssuers.map((c) => issuerHashes(c.subject, c.publicKeyInfo))
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date()
  }

  /** Loads (or issues, or renews) the responder certificate; call at start and periodically. */
  async ensureResponder(): Promise<Responder> {
    const credential = await this.deps.responder.get()
    if (credential !== this.responder?.credential) {
      // Answers cached under the previous certificate would outlive it: drop them.
      this.responder = { credential, signer: softwareSigner(credential.privateKey) }
      this.clearCache()
    }
    return this.responder
  }

  /** Drops the cached answers for a serial (called on revocation, from any replica). */
  invalidate(serial: string): void {
    this.generation++
    for (const key of this.keysBySerial.get(serial) ?? []) this.cache.delete(key)
    this.keysBySerial.delete(serial)
    this.statuses.delete(serial)
  }

  /** Drops every cached answer (after missed notifications). */
  invalidateAll(): void {
    this.clearCache()
  }

  private clearCache(): void {
    this.generation++
    this.cache.clear()
    this.keysBySerial.clear()
    this.statuses.clear()
  }

  private async lookup(serials: string[], issuerSerial: string): Promise<Map<string, StatusRow>> {
    const rows = new Map<string, StatusRow>()
    const missing: string[] = []
    for (const serial of serials) {
      const hit = this.statuses.get(serial)
      if (hit) rows.set(serial, hit)
      else missing.push(serial)
    }
    if (missing.length > 0) {
      const generation = this.generation
      for (const row of await statusesOf(this.db, missing)) {
        if (row.issuer_serial !== issuerSerial) continue
        rows.set(row.serial, row)
        if (generation !== this.generation) continue
        if (this.statuses.size >= MAX_CACHED) this.statuses.clear()
        this.statuses.set(row.serial, row)
      }
    }
    return rows
  }

  /** Answers one DER OCSPRequest with a DER OCSPResponse; never throws for bad input. */
  async answer(requestDer: Uint8Array): Promise<OcspReply> {
    let request
    try {
      request = parseOcspRequest(requestDer)
    } catch (error) {
      if (error instanceof OcspMalformedError) return { der: ocspErrorResponse('malformedRequest') }
      throw error
    }
    const ours = request.certIds.map((id) => certIdMatchesIssuer(id, this.hashes))
    // RFC 6960 §4.2.2.2: a delegated responder certificate speaks only for the CA that issued it.
    if (request.certIds.some((id, i) => !ours[i] && this.retired.some((h) => certIdMatchesIssuer(id, h)))) {
      return { der: ocspErrorResponse('unauthorized') }
    }
    const single = request.certIds.length === 1 && !request.nonce
    const cacheKey = single ? request.certIds[0]!.raw.toString('base64') : undefined
    const now = this.now()
    if (cacheKey) {
      const hit = this.cache.get(cacheKey)
      if (hit && hit.reply.cacheUntil && hit.reply.cacheUntil > now) return hit.reply
    }
    const responder = await this.ensureResponder()
    const generation = this.generation
    const issuerSerial = serialToHex(this.deps.issuing.serial)
    const rows = await this.lookup(request.certIds.filter((_, i) => ours[i]).map((id) => id.serial), issuerSerial)
    const nextUpdate = new Date(now.getTime() + this.deps.validityMs)
    const answers: OcspSingleAnswer[] = request.certIds.map((certId, i) => {
      const row = ours[i] ? rows.get(certId.serial) : undefined
      let status: OcspCertStatus = { status: 'unknown' }
      if (row?.status === 'revoked') status = { status: 'revoked', revokedAt: new Date(row.revoked_at!), reason: row.revocation_reason as RevocationReason }
      else if (row) status = { status: 'good' }
      return { certId, status, thisUpdate: now, nextUpdate }
    })
    const der = buildOcspResponse({ responderCertificate: responder.credential.certificate, signer: responder.signer, answers, producedAt: now, nonce: request.nonce })
    const reply: OcspReply = { der, cacheUntil: single ? new Date(now.getTime() + this.deps.validityMs / 2) : undefined }
    if (cacheKey && generation === this.generation) {
      if (this.cache.size >= MAX_CACHED) this.clearCache()
      const serial = request.certIds[0]!.serial
      this.cache.set(cacheKey, { reply, serial })
      let keys = this.keysBySerial.get(serial)
      if (!keys) this.keysBySerial.set(serial, (keys = new Set()))
      keys.add(cacheKey)
    }
    return reply
  }
}
