import { kagiVersion } from './package-dir.js'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Clock } from '../ca/index.js'
import type { PoolStats } from './db/connect.js'
import type { KeyPoolStats } from './keys/rsa-key-pool.js'
import type { CrlPublisher, PublishedCrl } from './revocation/crl-publisher.js'
import type { OcspOutcome } from './revocation/ocsp-service.js'

/**
 * How a certificate was issued or revoked: `page` (a signed-in user, on the
 * enrollment page or the admin console), `api` (an admin token), `mdm` (an
 * MDM token), `scep`, `cli`; `other` for an actor none of these name.
 */
export type Path = 'page' | 'api' | 'mdm' | 'scep' | 'cli' | 'other'

/**
 * The path of an actor label (`user:…`, `token:…`, `scep:…`, `cli`, as the
 * callers of enroll and revoke write them): only the prefix is kept, never
 * the email or token name after it. A token acting as `mdm` is the MDM path.
 */
export function pathOf(actor: string, role?: 'self-service' | 'mdm' | 'admin'): Path {
  if (actor === 'cli') return 'cli'
  switch (actor.slice(0, actor.indexOf(':'))) {
    case 'user':
      return 'page'
    case 'scep':
      return 'scep'
    case 'token':
      return role === 'mdm' ? 'mdm' : 'api'
    default:
      return 'other'
  }
}

/** What the scrape-time gauges read. */
export interface MetricSources {
  crl: { issuing: Pick<CrlPublisher, 'get'>; root: Pick<CrlPublisher, 'get'> }
  /** The PostgreSQL pool; absent on the embedded database, which has one connection and no pool. */
  pool?: PoolStats
  /** The RSA key pool (src/keys/rsa-key-pool.ts). */
  keyPool?: { stats(): KeyPoolStats }
  now?: Clock
}

/** Buckets for request latency in seconds: OCSP answers in under a millisecond, RSA key generation in seconds. */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * kagi's Prometheus metrics, on a registry of their own (not prom-client's
 * global one: tests build many apps in one process, and two would collide).
 * Labels hold only bounded values (profiles, platforms, paths, route
 * patterns, statuses), never serials, emails or secrets.
 */
export class Metrics {
  readonly registry = new Registry()
  private readonly issued = this.counter('kagi_certificates_issued_total', 'Certificates issued, by profile, platform and path.', ['profile', 'platform', 'path'])
  private readonly revoked = this.counter('kagi_certificates_revoked_total', 'Certificates revoked (by revoke or offboarding), by profile, platform, path and reason.', [
    'profile',
    'platform',
    'path',
    'reason',
  ])
  private readonly requestSeconds = new Histogram({
    name: 'kagi_http_request_duration_seconds',
    help: 'HTTP request latency, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  })
  private readonly ocspRequests = this.counter('kagi_ocsp_requests_total', 'OCSP requests, by HTTP method.', ['method'])
  private readonly ocspCacheHits = this.counter('kagi_ocsp_cache_hits_total', 'OCSP requests answered from the pre-signed cache.', [])
  private readonly ocspAnswers = this.counter('kagi_ocsp_answers_total', 'OCSP answers: each certificate status (good, revoked, unknown), or the error response status.', ['status'])
  private readonly scep = this.counter('kagi_scep_operations_total', 'SCEP PKIOperations, by CertRep status and failInfo (none on success).', ['status', 'fail_info'])
  private readonly signIns = this.counter('kagi_sign_ins_total', 'Completed sign-ins, by method (saml, development).', ['via'])
  private readonly signInRefusals = this.counter('kagi_sign_in_refusals_total', 'Refused sign-ins (auth.sign-in-refused audit events).', [])

  constructor(sources: MetricSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'kagi_' })
    new Gauge({ name: 'kagi_build_info', help: 'kagi version and Node.js version; always 1.', labelNames: ['version', 'node'], registers: [this.registry], aggregator: 'first' })
      .set({ version: kagiVersion(), node: process.version }, 1)
    this.crlGauges(sources)
    if (sources.pool) this.poolGauges(sources.pool)
    if (sources.keyPool) this.keyPoolMetrics(sources.keyPool)
  }

  /** In a KAGI_WORKERS cluster: every process's metrics, aggregated by the primary (startup/cluster-worker.ts). */
  private aggregate?: () => Promise<string>

  /** The scrape body, Prometheus text format: this process's metrics, or its cluster's once {@link joinCluster} ran. */
  text(): Promise<string> {
    return this.aggregate ? this.aggregate() : this.registry.metrics()
  }

  /**
   * This process is one of a cluster's: {@link text} answers with the
   * cluster's metrics, which the primary aggregates from every process's
   * {@link json}. Counters and histograms are summed; gauges say how they
   * combine (`aggregator`).
   */
  joinCluster(aggregate: () => Promise<string>): void {
    this.aggregate = aggregate
  }

  /** This process's own metrics as prom-client's JSON (what AggregatorRegistry.aggregate takes). */
  json(): Promise<unknown[]> {
    return this.registry.getMetricsAsJSON()
  }

  /** The scrape's Content-Type. */
  get contentType(): string {
    return this.registry.contentType
  }

  /** One certificate issued by the enrollment pipeline (after its commit). */
  certificateIssued(labels: { profile: string; platform?: string; path: Path }): void {
    this.issued.inc({ profile: labels.profile, platform: labels.platform ?? 'none', path: labels.path })
  }

  /** One certificate newly revoked (a second revocation of it is not counted). */
  certificateRevoked(labels: { profile: string; platform: string | null; path: Path; reason: string }): void {
    this.revoked.inc({ ...labels, platform: labels.platform ?? 'none' })
  }

  /** One answered HTTP request; `route` is the pattern (`/api/v1/certificates/:serial`), never the URL. */
  request(method: string, route: string, statusCode: number, seconds: number): void {
    this.requestSeconds.observe({ method, route, status_code: String(statusCode) }, seconds)
  }

  /** One OCSP response: its request, whether it came from the cache, and what it says. */
  ocspAnswered(method: string, outcomes: readonly OcspOutcome[], cached: boolean): void {
    this.ocspRequests.inc({ method })
    if (cached) this.ocspCacheHits.inc()
    for (const status of outcomes) this.ocspAnswers.inc({ status })
  }

  /** One PKIOperation's CertRep. */
  scepAnswered(status: string, failInfo: string | undefined): void {
    this.scep.inc({ status, fail_info: failInfo ?? 'none' })
  }

  /** One completed sign-in. */
  signedIn(via: string): void {
    this.signIns.inc({ via })
  }

  /** One refused sign-in (the reason stays in the audit log: it is free text). */
  signInRefused(): void {
    this.signInRefusals.inc()
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] })
  }

  /** Read at scrape time through the publishers' `get`, which also picks up CRLs other replicas signed. */
  private crlGauges({ crl, now }: MetricSources): void {
    const gauge = (name: string, help: string, value: (published: PublishedCrl) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['ca'],
        registers: [this.registry],
        // The processes of a cluster read the same CRLs: the oldest age and the longest list, not their sums.
        aggregator: 'max',
        async collect() {
          this.reset()
          for (const ca of ['issuing', 'root'] as const) {
            const published = await crl[ca].get()
            if (published) this.set({ ca }, value(published))
          }
        },
      })
    gauge('kagi_crl_age_seconds', "Seconds since the current CRL's thisUpdate, by CA (issuing, root).", (p) => Math.max(0, ((now?.() ?? new Date()).getTime() - p.thisUpdate.getTime()) / 1000))
    gauge('kagi_crl_entries', 'Revoked certificates listed on the current CRL, by CA.', (p) => p.entries)
  }

  private poolGauges(pool: PoolStats): void {
    new Gauge({
      name: 'kagi_db_pool_connections',
      help: 'PostgreSQL pool connections, by state (in_use, idle).',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        this.set({ state: 'in_use' }, pool.totalCount - pool.idleCount)
        this.set({ state: 'idle' }, pool.idleCount)
      },
    })
    new Gauge({
      name: 'kagi_db_pool_waiting',
      help: 'Queries waiting for a PostgreSQL pool connection.',
      registers: [this.registry],
      collect() {
        this.set(pool.waitingCount)
      },
    })
  }

  /** Read at scrape time from the pool, which counts its own takes. */
  private keyPoolMetrics(keyPool: { stats(): KeyPoolStats }): void {
    const registers = [this.registry]
    new Gauge({
      name: 'kagi_key_pool_available',
      help: 'RSA-2048 keys generated ahead and ready in the key pool.',
      registers,
      collect() {
        this.set(keyPool.stats().available)
      },
    })
    new Gauge({
      name: 'kagi_key_pool_target',
      help: 'The size the RSA key pool refills to in idle time (KAGI_KEY_POOL_SIZE).',
      registers,
      collect() {
        this.set(keyPool.stats().target)
      },
    })
    new Counter({
      name: 'kagi_key_pool_taken_total',
      help: 'RSA-2048 keys handed to enrollments, by source: pool (generated ahead) or generated (on demand: the pool was empty or off).',
      labelNames: ['source'],
      registers,
      collect() {
        const { taken } = keyPool.stats()
        this.reset()
        this.inc({ source: 'pool' }, taken.pool)
        this.inc({ source: 'generated' }, taken.generated)
      },
    })
  }
}
