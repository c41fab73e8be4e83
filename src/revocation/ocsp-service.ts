import type { Kysely } from 'kysely'
import { LRUCache } from 'lru-cache'
import {
  buildOcspResponse,
  buildOcspResponseOffThread,
  certIdMatchesIssuer,
  issuerHashes,
  ocspErrorResponse,
  OcspMalformedError,
  parseOcspRequest,
  serialToHex,
  softwareSigner,
  type CertificateInfo,
  type OcspCertId,
  type OcspCertStatus,
  type OcspIssuerHashes,
  type OcspSingleAnswer,
  type RevocationReason,
  type Signer,
} from '../../ca/index.js'
import type { Database } from '../db/database.js'
import { statusesOf } from '../db/revocation-repository.js'
import type { Credential, ServiceCredential } from '../use-cases/service-credentials.js'
import type { SigningThread } from './signing-thread.js'

/** What an OCSP response says: a certificate's status, or the error response status (RFC 6960 §4.2.1). */
export type OcspOutcome = OcspCertStatus['status'] | 'malformedRequest' | 'unauthorized'

/** An OCSP answer ready to send, and until when a cache may keep it (undefined: do not cache). */
export interface OcspReply {
  der: Buffer
  cacheUntil?: Date
  /** What it says, for the metrics: each certificate's status, or the error response status. */
  outcomes: readonly OcspOutcome[]
  /** Served pre-signed from the cache. */
  cached: boolean
  /** Serials of kagi's certificates it answers about (good or revoked): "last seen by the VPN" (ocsp-checks.ts). */
  checked: readonly string[]
}

/**
 * Memory budget of the pre-signed answers about certificates kagi issued
 * (good or revoked). An answer is about 1 KB (it carries the responder
 * certificate), so 64 MiB keeps some 60,000 devices answered without a
 * signature while staying well inside the 250 MB RSS target.
 */
export const OCSP_CACHE_BYTES = 64 * 1024 * 1024
/**
 * Budget of the cached `unknown` answers, kept apart so that a flood of
 * made-up serials evicts only other unknown answers, never a device's good
 * or revoked one.
 */
export const OCSP_UNKNOWN_CACHE_BYTES = 8 * 1024 * 1024
/** Per-entry bookkeeping counted on top of the DER: key string, entry object, LRU slots, serial index. */
const ENTRY_OVERHEAD_BYTES = 256
/** Status rows kept in memory (about 200 bytes each): the least recently asked are dropped first. */
const MAX_STATUS_ROWS = 100_000

type StatusRow = Awaited<ReturnType<typeof statusesOf>>[number]

interface Responder {
  credential: Credential
  signer: Signer
}

interface CachedAnswer {
  reply: OcspReply
  serial: string
}

/**
 * The pre-signed answers, bounded by memory with LRU eviction, in two tiers
 * (answers about kagi's certificates, and `unknown` answers), indexed by
 * serial so that a revocation drops every CertID form of it at once.
 */
class AnswerCache {
  private readonly known: LRUCache<string, CachedAnswer>
  private readonly unknown: LRUCache<string, CachedAnswer>
  private readonly keysBySerial = new Map<string, Set<string>>()

  constructor(knownBytes: number, unknownBytes: number) {
    const options = {
      sizeCalculation: (value: CachedAnswer, key: string) => value.reply.der.length + key.length + ENTRY_OVERHEAD_BYTES,
      // Evicted, replaced or deleted: forget the key in the serial index too.
      dispose: (value: CachedAnswer, key: string) => this.unindex(value.serial, key),
    }
    this.known = new LRUCache({ ...options, maxSize: knownBytes })
    this.unknown = new LRUCache({ ...options, maxSize: unknownBytes })
  }

  get(key: string): CachedAnswer | undefined {
    return this.known.get(key) ?? this.unknown.get(key)
  }

  set(key: string, answer: CachedAnswer, isUnknown: boolean): void {
    const [tier, other] = isUnknown ? [this.unknown, this.known] : [this.known, this.unknown]
    other.delete(key)
    tier.set(key, answer)
    if (!tier.has(key)) return // larger than the whole budget: not kept
    let keys = this.keysBySerial.get(answer.serial)
    if (!keys) this.keysBySerial.set(answer.serial, (keys = new Set()))
    keys.add(key)
  }

  delete(key: string): void {
    this.known.delete(key)
    this.unknown.delete(key)
  }

  deleteSerial(serial: string): void {
    for (const key of [...(this.keysBySerial.get(serial) ?? [])]) this.delete(key)
    this.keysBySerial.delete(serial)
  }

  clear(): void {
    this.known.clear()
    this.unknown.clear()
    this.keysBySerial.clear()
  }

  private unindex(serial: string, key: string): void {
    const keys = this.keysBySerial.get(serial)
    keys?.delete(key)
    if (keys?.size === 0) this.keysBySerial.delete(serial)
  }
}

/** A CA kagi answers for, and the delegated responder that signs for it. */
interface Delegation {
  hashes: OcspIssuerHashes
  credential: Pick<ServiceCredential, 'get'>
  current?: Responder
}

/**
 * The OCSP responder (RFC 6960): answers from the certificate table, signs
 * with a delegated responder certificate (a service credential, profile
 * ocsp-signer, renewed automatically), echoes nonces, and never says "good"
 * for a serial kagi did not issue.
 *
 * The chain: the issuing CA's certificate names this responder too, and
 * clients that check every certificate by OCSP ask about it with issuer =
 * root. RFC 6960 §4.2.2.2 lets only the root, or a responder the root itself
 * designated (EKU id-kp-OCSPSigning, issued directly by the root), sign that
 * answer. kagi uses a root-delegated responder rather than root signatures:
 * it is the same ServiceCredential machinery as the issuing CA's responder
 * (stored encrypted, shared by replicas, renewed on the same schedule), the
 * root key is used once per renewal (every ~5 days) instead of for every
 * fresh (nonce) answer, and every answer has the same shape (byKey
 * responderID, responder certificate included). The root issued only the
 * issuing CA: its serial is `good` (kagi records no revocation of issuing
 * CAs, and the root CRL is empty too), any other serial under the root is
 * `unknown`.
 *
 * One response has one signer, so a request is answered by the root's
 * responder only when every CertID in it names the root; otherwise by the
 * issuing CA's responder, and CertIDs of any other issuer are `unknown`, as
 * before.
 *
 * Caching: an answer to a single-certificate request without a nonce is kept
 * (pre-signed) until half of its validity, within a memory budget (LRU); a
 * revocation drops the cached answer for that serial at once. Requests with
 * a nonce are always signed fresh, as the nonce demands (PAN-OS sends one by
 * default; an ECDSA signature costs tens of microseconds).
 */
export class OcspService {
  private readonly issuing: Delegation
  private readonly root?: Delegation
  private readonly retired: OcspIssuerHashes[]
  private readonly issuingSerial: string
  private readonly cache: AnswerCache
  /**
   * Status rows of serials kagi issued, so that fresh (nonce) answers need no
   * query. Only found rows are kept: a serial issued a moment ago must never
   * be answered "unknown" from a stale cache. Dropped on revocation.
   */
  private readonly statuses = new LRUCache<string, StatusRow>({ max: MAX_STATUS_ROWS })
  /**
   * Bumped by every invalidation: an answer computed from rows read before a
   * revocation is sent but never cached (it would outlive the invalidation).
   */
  private generation = 0
  /** See {@link bypassCaches}. */
  private bypass = false

  constructor(
    private readonly db: Kysely<Database>,
    private readonly deps: {
      issuing: CertificateInfo
      /** Issuing CAs kagi used before (their certificates can no longer get delegated answers). */
      retiredIssuers: readonly CertificateInfo[]
      /** The delegated responder certificate and key (see ocspResponderCredential). */
      responder: Pick<ServiceCredential, 'get'>
      /**
       * The root and its delegated responder (see rootOcspResponderCredential),
       * for the issuing CA's own status. Absent (no root key, or the issuing CA
       * is the root): requests naming the root are answered as another issuer's.
       */
      root?: { certificate: CertificateInfo; responder: Pick<ServiceCredential, 'get'> }
      validityMs: number
      now?: () => Date
      /** Memory budget of cached answers about kagi's certificates. Default {@link OCSP_CACHE_BYTES}. */
      cacheBytes?: number
      /** Memory budget of cached `unknown` answers. Default {@link OCSP_UNKNOWN_CACHE_BYTES}. */
      unknownCacheBytes?: number
      /**
       * Fresh answers are signed on this thread rather than on the event
       * loop: right when a core is idle beside this process (kagi runs fewer
       * processes than there are cores), wrong when every core runs an event
       * loop, where the hand-over only adds work. Fresh answers per second
       * on 2 cores (PostgreSQL, bench/ocsp-client.ts, 16 in flight): one
       * process 15,600 in place, 21,400 with the thread; two processes
       * 22,100 in place. See signing-thread.ts.
       */
      signingThread?: SigningThread
    },
  ) {
    this.issuing = { hashes: issuerHashes(deps.issuing.subject, deps.issuing.publicKeyInfo), credential: deps.responder }
    if (deps.root) this.root = { hashes: issuerHashes(deps.root.certificate.subject, deps.root.certificate.publicKeyInfo), credential: deps.root.responder }
    this.retired = deps.retiredIssuers.map((c) => issuerHashes(c.subject, c.publicKeyInfo))
    this.issuingSerial = serialToHex(deps.issuing.serial)
    this.cache = new AnswerCache(deps.cacheBytes ?? OCSP_CACHE_BYTES, deps.unknownCacheBytes ?? OCSP_UNKNOWN_CACHE_BYTES)
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date()
  }

  /**
   * Loads (or issues, or renews) the responder certificate; call at start and
   * periodically. The root's responder is renewed here only once it has been
   * needed: it is created on the first request about the issuing CA.
   */
  async ensureResponder(): Promise<Responder> {
    if (this.root?.current) await this.responderOf(this.root)
    return this.responderOf(this.issuing)
  }

  private async responderOf(delegation: Delegation): Promise<Responder> {
    const credential = await delegation.credential.get()
    if (credential !== delegation.current?.credential) {
      // Answers cached under the previous certificate would outlive it: drop them (a first load has none).
      if (delegation.current) this.clearCache()
      delegation.current = { credential, signer: this.signerOf(credential) }
    }
    return delegation.current
  }

  private signerOf(credential: Credential): Signer {
    return this.deps.signingThread?.signerFor(credential.privateKey) ?? softwareSigner(credential.privateKey)
  }

  /** Drops the cached answers for a serial (called on revocation, from any replica). */
  invalidate(serial: string): void {
    this.generation++
    this.cache.deleteSerial(serial)
    this.statuses.delete(serial)
  }

  /** Drops every cached answer (after missed notifications). */
  invalidateAll(): void {
    this.clearCache()
  }

  /**
   * While on, answers are neither taken from nor put into the caches: every
   * status is read from the database. kagi turns it on while it cannot hear
   * other replicas' revocations (LISTEN down), so no cached `good` outlives
   * a revocation it missed. Either change drops the caches.
   */
  bypassCaches(on: boolean): void {
    this.bypass = on
    this.clearCache()
  }

  private clearCache(): void {
    this.generation++
    this.cache.clear()
    this.statuses.clear()
  }

  private async lookup(serials: string[]): Promise<Map<string, StatusRow>> {
    const rows = new Map<string, StatusRow>()
    const missing: string[] = []
    for (const serial of serials) {
      const hit = this.bypass ? undefined : this.statuses.get(serial)
      if (hit) rows.set(serial, hit)
      else missing.push(serial)
    }
    if (missing.length > 0) {
      const generation = this.generation
      for (const row of await statusesOf(this.db, missing)) {
        if (row.issuer_serial !== this.issuingSerial) continue
        rows.set(row.serial, row)
        if (generation === this.generation && !this.bypass) this.statuses.set(row.serial, row)
      }
    }
    return rows
  }

  /** Statuses of certificates of the issuing CA (undefined for CertIDs of other issuers). */
  private async issuingStatuses(certIds: OcspCertId[], ours: boolean[]): Promise<(OcspCertStatus | undefined)[]> {
    const rows = await this.lookup(certIds.filter((_, i) => ours[i]).map((id) => id.serial))
    return certIds.map((certId, i) => {
      const row = ours[i] ? rows.get(certId.serial) : undefined
      if (row?.status === 'revoked') return { status: 'revoked', revokedAt: new Date(row.revoked_at!), reason: row.revocation_reason as RevocationReason }
      return row ? { status: 'good' } : undefined
    })
  }

  /**
   * What the responder would answer now about one of the issuing CA's
   * serials, through the same status lookup and cache as {@link answer}
   * (the admin console shows it after a revocation).
   */
  async statusOf(serial: string): Promise<OcspCertStatus['status']> {
    const [status] = await this.issuingStatuses([{ serial } as OcspCertId], [true])
    return status?.status ?? 'unknown'
  }

  /** Answers one DER OCSPRequest with a DER OCSPResponse; never throws for bad input. */
  async answer(requestDer: Uint8Array): Promise<OcspReply> {
    let request
    try {
      request = parseOcspRequest(requestDer)
    } catch (error) {
      if (error instanceof OcspMalformedError) return { der: ocspErrorResponse('malformedRequest'), outcomes: ['malformedRequest'], cached: false, checked: [] }
      throw error
    }
    const ours = request.certIds.map((id) => certIdMatchesIssuer(id, this.issuing.hashes))
    // RFC 6960 §4.2.2.2: a delegated responder certificate speaks only for the CA that issued it.
    if (request.certIds.some((id, i) => !ours[i] && this.retired.some((h) => certIdMatchesIssuer(id, h)))) {
      return { der: ocspErrorResponse('unauthorized'), outcomes: ['unauthorized'], cached: false, checked: [] }
    }
    const root = this.root
    const speaker = root && request.certIds.every((id, i) => !ours[i] && certIdMatchesIssuer(id, root.hashes)) ? root : this.issuing
    const forRoot = speaker === root
    const single = request.certIds.length === 1 && !request.nonce
    const cacheKey = single && !this.bypass ? request.certIds[0]!.raw.toString('base64') : undefined
    const now = this.now()
    if (cacheKey) {
      const hit = this.cache.get(cacheKey)
      if (hit?.reply.cacheUntil && hit.reply.cacheUntil > now) return { ...hit.reply, cached: true }
      if (hit) this.cache.delete(cacheKey)
    }
    const responder = await this.responderOf(speaker)
    const generation = this.generation
    const statuses = forRoot
      ? request.certIds.map((id): OcspCertStatus | undefined => (id.serial === this.issuingSerial ? { status: 'good' } : undefined))
      : await this.issuingStatuses(request.certIds, ours)
    const nextUpdate = new Date(now.getTime() + this.deps.validityMs)
    const answers: OcspSingleAnswer[] = request.certIds.map((certId, i) => ({ certId, status: statuses[i] ?? { status: 'unknown' }, thisUpdate: now, nextUpdate }))
    const response = { responderCertificate: responder.credential.certificate, signer: responder.signer, answers, producedAt: now, nonce: request.nonce }
    const der = this.deps.signingThread ? await buildOcspResponseOffThread(response) : buildOcspResponse(response)
    // Root-signed answers are about the issuing CA itself, never a device's certificate.
    const checked = forRoot ? [] : request.certIds.filter((_, i) => statuses[i] !== undefined).map((id) => id.serial)
    const reply: OcspReply = { der, cacheUntil: single ? new Date(now.getTime() + this.deps.validityMs / 2) : undefined, outcomes: answers.map((a) => a.status.status), cached: false, checked }
    if (cacheKey && generation === this.generation) {
      this.cache.set(cacheKey, { reply, serial: request.certIds[0]!.serial }, answers[0]!.status.status === 'unknown')
    }
    return reply
  }
}
