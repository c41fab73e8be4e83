import { availableParallelism } from 'node:os'
import type { Kysely } from 'kysely'
import { Authority, decryptPrivateKeyAsync, derToPem, serialToHex, softwareSigner, verifyCsr, verifyCsrOffThread, type Clock, type Signer, type VerifiedCsr } from '../../ca/index.js'
import type { LoadedCa } from './ca-loader.js'
import type { Config } from '../config.js'
import { createEnrollmentStore, type EnrollmentStore } from '../db/enrollment-store.js'
import type { Database } from '../db/database.js'
import { createUserLookup, type UserLookup } from '../db/user-repository.js'
import { CrlPublisher, issuingCrlAuthority, type Log } from '../revocation/crl-publisher.js'
import { join } from 'node:path'
import { OcspService } from '../revocation/ocsp-service.js'
import { SigningThread } from '../revocation/signing-thread.js'
import { OcspTraffic } from '../revocation/ocsp-traffic.js'
import { OcspCheckRecorder } from '../revocation/ocsp-checks.js'
import type { SessionServices } from '../auth/session.js'
import { SessionKeyring } from '../auth/session-key.js'
import { SessionRecords } from '../auth/session-records.js'
import { checkListenerCredential, ocspResponderCredential, profileSignerCredential, rootCredentialIssuer, rootOcspResponderCredential, scepRaCredential, ServiceCredential } from '../use-cases/service-credentials.js'
import { listenForRevocations } from '../revocation/revocation-events.js'
import { createAuditHeadSigner } from '../use-cases/audit-heads.js'
import type { PoolStats } from '../db/connect.js'
import { Metrics } from '../metrics.js'
import { RsaKeyPool } from '../keys/rsa-key-pool.js'
import type { Siblings } from './cluster-worker.js'

/** Everything a route or a CLI command needs, built once from config, database and CA. */
export interface KagiServices {
  config: Readonly<Config>
  db: Kysely<Database>
  ca: LoadedCa
  /** Signs certificates with the issuing CA (src/use-cases/enroll.ts is its one caller for leaf certificates). */
  authority: Authority
  /** Writes enrollments (user, device, certificate, superseded, audit) in one transaction, with group commit. */
  enrollments: EnrollmentStore
  /** Email → user id of an existing user (cached), or undefined; never creates one. */
  findUserId: UserLookup
  /** Issuing CA then root, PEM. */
  chainPem: string
  /** Issuing CA and root DER, for PKCS#12 files and bundles. */
  chainDer: readonly Buffer[]
  crl: { issuing: CrlPublisher; root: CrlPublisher }
  ocsp: OcspService
  /** OCSP requests per hour in this process (the admin dashboard). */
  ocspTraffic: OcspTraffic
  /** "Last seen by the VPN": OCSP requests per certificate, written in batches (revocation/ocsp-checks.ts). */
  ocspChecks: OcspCheckRecorder
  log: Log
  /** The Prometheus metrics of this process (GET /metrics). */
  metrics: Metrics
  /**
   * Checks a CSR (ca/csr.ts verifyCsr): its signature is checked on the
   * signing thread when there is one (signing-thread.ts).
   */
  verifyCsr(csr: string): Promise<VerifiedCsr>
  /** RSA-2048 keys generated ahead in idle time, once {@link start} ran (enroll.ts takes them); never stored. */
  keyPool: RsaKeyPool
  /** Signs configuration profiles (issued on first use). */
  profileSigner: ServiceCredential
  /** kagi's SCEP certificate (RSA; issued on first use): requests are encrypted to it, CertReps signed with it. */
  scepRa: ServiceCredential
  /** The TLS certificate of the check-my-device listener (KAGI_CHECK_LISTEN; issued on first use), else undefined. */
  checkListenerTls?: ServiceCredential
  /** The session cookie's key and the server-side session records (see auth/session.ts). */
  sessions: SessionServices
  /** Called with the serial of every new revocation (OCSP cache invalidation). */
  onRevoked: ((serial: string) => void)[]
  /** The other `kagi serve` processes of this one's KAGI_WORKERS cluster, told of its revocations (startup/cluster-worker.ts). */
  siblings?: Siblings
  /** Set by server.ts when shutdown begins: GET /readyz answers 503 from then on, so load balancers stop sending requests. */
  draining: boolean
  /** Signs due CRLs now and from time to time; call once the database is ready. */
  start(): Promise<void>
  /** Stops the timers started by {@link start}. */
  stop(): Promise<void>
}

/** Options for {@link createServices}. */
export interface ServiceOptions {
  clock?: Clock
  /** Needed to sign the root CRL (the root key is decrypted only then). */
  passphrase?: string
  log?: Log
  /** Export CRLs to `<dataDir>/crl` (default true). */
  exportCrls?: boolean
  /** The PostgreSQL pool, for its gauges in the metrics. */
  pool?: PoolStats
}

/** How often a running process looks for a rotated session key. */
const SESSION_KEY_POLL_MS = 15_000

const silentLog: Log = { info: () => {}, warn: () => {}, error: () => {} }

/** Wires the CA core to kysely: the authority signs with the issuing key and stores through the database. */
export function createServices(config: Readonly<Config>, db: Kysely<Database>, ca: LoadedCa, options: ServiceOptions = {}): KagiServices {
  const issuerSerial = serialToHex(ca.issuing.serial)
  const log = options.log ?? silentLog
  // A core beside each process: fresh OCSP answers are signed on a thread (signing-thread.ts).
  const signingThread = config.workers < availableParallelism() ? new SigningThread(log) : undefined
  // Issuance too (the certificate's signature and the CSR's check), when the database is a server of its own:
  // with embedded PGlite the database runs on this event loop and sets issuance's pace, so the thread gained it
  // little (~8 %) and cost ~15 MB more of the process's peak (README, "Performance", "Memory").
  const issuanceThread = config.databaseUrl ? signingThread : undefined
  const issuingSigner = issuanceThread?.signerFor(ca.issuingKey) ?? softwareSigner(ca.issuingKey)
  const authority = new Authority({
    issuing: { certificate: ca.issuing, signer: issuingSigner },
    publicUrl: config.publicUrl,
    caName: config.caName,
    clock: options.clock,
  })
  let rootSigner: Promise<Signer | undefined> | undefined
  // Decrypted once, when first needed (the root CRL's first signature, the root OCSP responder's certificate), and
  // on the thread pool: a synchronous PBKDF2 of 600,000 iterations stalled every request behind it for ~0.25 s.
  const rootSignerOnDemand = (): Promise<Signer | undefined> => {
    const { rootEncryptedKey } = ca
    if (!rootEncryptedKey || !options.passphrase) return Promise.resolve(undefined)
    if (rootSigner) return rootSigner
    const decrypting = decryptPrivateKeyAsync(rootEncryptedKey, options.passphrase).then(softwareSigner, (error: unknown) => {
      rootSigner = undefined // tried again next time
      throw error
    })
    rootSigner = decrypting
    return decrypting
  }
  const now = options.clock
  const exportDir = options.exportCrls === false ? undefined : join(config.dataDir, 'crl')
  const crlOptions = { validityMs: config.crlValidityMs, exportDir, log, now, embedded: !config.databaseUrl }
  const crl = {
    issuing: new CrlPublisher(db, issuingCrlAuthority(db, ca.issuing, issuingSigner), crlOptions),
    root: new CrlPublisher(db, { certificate: ca.root, signer: rootSignerOnDemand, entries: async () => [], entriesAmong: async () => [], summary: async () => ({ count: 0 }) }, crlOptions),
  }
  const credentialDeps = { authority, chain: [ca.issuing.der, ca.root.der], passphrase: options.passphrase ?? '', log, now }
  // The issuing CA's own status is answered by a responder the root delegates (RFC 6960 §4.2.2.2), when kagi holds the root key.
  const rootIssuer = rootCredentialIssuer(ca.root, rootSignerOnDemand, { publicUrl: config.publicUrl, caName: config.caName, clock: options.clock })
  const rootResponder = ca.rootEncryptedKey && options.passphrase && !ca.root.der.equals(ca.issuing.der)
    ? { certificate: ca.root, responder: new ServiceCredential(db, rootOcspResponderCredential, { ...credentialDeps, authority: rootIssuer, chain: [ca.root.der] }) }
    : undefined
  const ocsp = new OcspService(db, {
    issuing: ca.issuing,
    retiredIssuers: ca.retiredIssuing,
    responder: new ServiceCredential(db, ocspResponderCredential, credentialDeps),
    root: rootResponder,
    validityMs: config.ocspValidityMs,
    now,
    signingThread,
  })
  const sessions: SessionServices = {
    keyring: new SessionKeyring(db, { secret: config.sessionSecret, passphrase: options.passphrase, log }),
    records: new SessionRecords(db, { idleMs: config.sessionIdleMs, maxMs: config.sessionMaxMs }),
  }
  const ocspChecks = new OcspCheckRecorder(db, { log, now, enabled: config.ocspLastSeen })
  const auditHeads = createAuditHeadSigner({ db, authority, config, log, now }, options.passphrase)
  const keyPool = new RsaKeyPool({ size: config.keyPoolSize, onError: (error) => log.error({ err: error }, 'generating a key for the RSA key pool failed') })
  let timer: NodeJS.Timeout | undefined
  let keyTimer: NodeJS.Timeout | undefined
  let stopListening: (() => Promise<void>) | undefined
  /** Serials this process revoked and announced itself (their CRL is already being signed here). */
  const announcedHere = new Set<string>()
  return {
    config,
    db,
    ca,
    authority,
    enrollments: createEnrollmentStore(db, () => issuerSerial),
    findUserId: createUserLookup(db),
    chainPem: derToPem(ca.issuing.der, 'CERTIFICATE') + derToPem(ca.root.der, 'CERTIFICATE'),
    chainDer: [ca.issuing.der, ca.root.der],
    crl,
    log,
    metrics: new Metrics({ crl, pool: options.pool, keyPool, now }),
    keyPool,
    verifyCsr: issuanceThread
      ? (csr) => verifyCsrOffThread(csr, (hash, data, key, signature) => issuanceThread.verify(hash, data, key, signature))
      : async (csr) => verifyCsr(csr),
    ocsp,
    ocspTraffic: new OcspTraffic(),
    ocspChecks,
    sessions,
    profileSigner: new ServiceCredential(db, profileSignerCredential, credentialDeps),
    scepRa: new ServiceCredential(db, scepRaCredential, credentialDeps),
    checkListenerTls: config.check?.listen && config.check.hostname ? new ServiceCredential(db, checkListenerCredential(config.check.hostname), credentialDeps) : undefined,
    onRevoked: [
      (serial) => ocsp.invalidate(serial),
      (serial) => {
        if (!config.databaseUrl) return
        // Only a notification that raced ahead of the local announcement leaves an entry behind.
        if (announcedHere.size >= 10_000) announcedHere.clear()
        announcedHere.add(serial)
      },
    ],
    draining: false,
    async start() {
      await Promise.all([crl.issuing.init().then(() => crl.root.init()), ocsp.ensureResponder(), sessions.keyring.ready(), auditHeads.start()])
      ocspChecks.start()
      // Fills only after its start delay (10 s), in idle time: `kagi revoke` and `kagi crl`, which start services too, have stopped by then.
      keyPool.start()
      if (config.databaseUrl) {
        // Until LISTEN is in place, and whenever it is lost, another replica's revocation could go
        // unheard: OCSP then reads every status from the database (README, "Revocation, CRL and OCSP").
        ocsp.bypassCaches(true)
        let listenedBefore = false
        stopListening = listenForRevocations(config.databaseUrl, {
          onSerial: (serial) => {
            ocsp.invalidate(serial)
            // Another process revoked it: put it on this replica's CRL too, not waiting for that process's CRL.
            if (!announcedHere.delete(serial)) crl.issuing.revoked([serial])
          },
          onListening: () => {
            ocsp.bypassCaches(false)
            // Revocations made while LISTEN was down were not heard: read the list again and sign a CRL that has them.
            if (listenedBefore) void crl.issuing.rebuild()
            listenedBefore = true
          },
          onLost: () => ocsp.bypassCaches(true),
        }, log)
      }
      // Re-sign before nextUpdate even when nothing changed (RFC 5280 §5.1.2.5): check often, sign at half validity.
      const every = Math.min(config.crlValidityMs / 8, 10 * 60_000)
      timer = setInterval(() => {
        for (const publisher of [crl.issuing, crl.root]) if (publisher.due()) void publisher.regenerate()
        ocsp.ensureResponder().catch((error) => log.error({ err: error }, 'OCSP responder renewal failed'))
      }, every)
      timer.unref()
      // A key rotated by `kagi session rotate-key` in another process is picked up within this time.
      keyTimer = setInterval(() => sessions.keyring.refresh().catch((error) => log.error({ err: error }, 'session key refresh failed')), SESSION_KEY_POLL_MS)
      keyTimer.unref()
    },
    async stop() {
      if (timer) clearInterval(timer)
      if (keyTimer) clearInterval(keyTimer)
      await stopListening?.()
      // The embedded database stores a CRL shortly after serving it: the last one is stored before it closes.
      await Promise.all([crl.issuing.flush(), crl.root.flush()])
      await auditHeads.stop()
      // The last tallies are written while the database is still open (server.ts closes it after).
      await ocspChecks.stop()
      await keyPool.stop()
      await signingThread?.stop()
    },
  }
}
