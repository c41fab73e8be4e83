import type { Kysely } from 'kysely'
import { Authority, decryptPrivateKey, derToPem, serialToHex, softwareSigner, type Clock, type Signer } from '../../ca/index.js'
import type { LoadedCa } from './ca-loader.js'
import type { Config } from '../config.js'
import { createEnrollmentStore, type EnrollmentStore } from '../db/enrollment-store.js'
import type { Database } from '../db/database.js'
import { createUserLookup, type UserLookup } from '../db/user-repository.js'
import { CrlPublisher, issuingCrlAuthority, type Log } from '../revocation/crl-publisher.js'
import { join } from 'node:path'
import { OcspService } from '../revocation/ocsp-service.js'
import { OcspTraffic } from '../revocation/ocsp-traffic.js'
import type { SessionServices } from '../auth/session.js'
import { SessionKeyring } from '../auth/session-key.js'
import { SessionRecords } from '../auth/session-records.js'
import { ocspResponderCredential, profileSignerCredential, rootCredentialIssuer, rootOcspResponderCredential, scepRaCredential, ServiceCredential } from '../use-cases/service-credentials.js'
import { listenForRevocations } from '../revocation/revocation-events.js'
import { createAuditHeadSigner } from '../use-cases/audit-heads.js'
import type { PoolStats } from '../db/connect.js'
import { Metrics } from '../metrics.js'

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
  log: Log
  /** The Prometheus metrics of this process (GET /metrics). */
  metrics: Metrics
  /** Signs configuration profiles (issued on first use). */
  profileSigner: ServiceCredential
  /** kagi's SCEP certificate (RSA; issued on first use): requests are encrypted to it, CertReps signed with it. */
  scepRa: ServiceCredential
  /** The session cookie's key and the server-side session records (see auth/session.ts). */
  sessions: SessionServices
  /** Called with the serial of every new revocation (OCSP cache invalidation). */
  onRevoked: ((serial: string) => void)[]
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
  const issuingSigner = softwareSigner(ca.issuingKey)
  const authority = new Authority({
    issuing: { certificate: ca.issuing, signer: issuingSigner },
    publicUrl: config.publicUrl,
    caName: config.caName,
    clock: options.clock,
  })
  let rootSigner: Signer | undefined
  const rootSignerOnDemand = (): Signer | undefined => {
    if (!rootSigner && ca.rootEncryptedKey && options.passphrase) rootSigner = softwareSigner(decryptPrivateKey(ca.rootEncryptedKey, options.passphrase))
    return rootSigner
  }
  const now = options.clock
  const exportDir = options.exportCrls === false ? undefined : join(config.dataDir, 'crl')
  const crlOptions = { validityMs: config.crlValidityMs, exportDir, log, now }
  const crl = {
    issuing: new CrlPublisher(db, issuingCrlAuthority(db, ca.issuing, issuingSigner), crlOptions),
    root: new CrlPublisher(db, { certificate: ca.root, signer: rootSignerOnDemand, entries: async () => [], summary: async () => ({ count: 0 }) }, crlOptions),
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
  })
  const sessions: SessionServices = {
    keyring: new SessionKeyring(db, { secret: config.sessionSecret, passphrase: options.passphrase, log }),
    records: new SessionRecords(db, { idleMs: config.sessionIdleMs, maxMs: config.sessionMaxMs }),
  }
  const auditHeads = createAuditHeadSigner({ db, authority, config, log, now }, options.passphrase)
  let timer: NodeJS.Timeout | undefined
  let keyTimer: NodeJS.Timeout | undefined
  let stopListening: (() => Promise<void>) | undefined
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
    metrics: new Metrics({ crl, pool: options.pool, now }),
    ocsp,
    ocspTraffic: new OcspTraffic(),
    sessions,
    profileSigner: new ServiceCredential(db, profileSignerCredential, credentialDeps),
    scepRa: new ServiceCredential(db, scepRaCredential, credentialDeps),
    onRevoked: [(serial) => ocsp.invalidate(serial)],
    async start() {
      await Promise.all([crl.issuing.init().then(() => crl.root.init()), ocsp.ensureResponder(), sessions.keyring.ready(), auditHeads.start()])
      if (config.databaseUrl) {
        stopListening = listenForRevocations(config.databaseUrl, { onSerial: (serial) => ocsp.invalidate(serial), onGap: () => ocsp.invalidateAll() }, log)
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
      await auditHeads.stop()
    },
  }
}
