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
import { sessionKey } from '../auth/session.js'
import { ocspResponderCredential, profileSignerCredential, ServiceCredential } from '../use-cases/service-credentials.js'
import { listenForRevocations } from '../revocation/revocation-events.js'

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
  log: Log
  /** Signs configuration profiles (issued on first use). */
  profileSigner: ServiceCredential
  /** Key of the session cookie (see auth/session.ts). */
  sessionKey: Buffer
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
}

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
  const ocsp = new OcspService(db, {
    issuing: ca.issuing,
    retiredIssuers: ca.retiredIssuing,
    responder: new ServiceCredential(db, ocspResponderCredential, credentialDeps),
    validityMs: config.ocspValidityMs,
    now,
  })
  let timer: NodeJS.Timeout | undefined
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
    ocsp,
    sessionKey: sessionKey(config, options.passphrase),
    profileSigner: new ServiceCredential(db, profileSignerCredential, credentialDeps),
    onRevoked: [(serial) => ocsp.invalidate(serial)],
    async start() {
      await Promise.all([crl.issuing.init().then(() => crl.root.init()), ocsp.ensureResponder()])
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
    },
    async stop() {
      if (timer) clearInterval(timer)
      await stopListening?.()
    },
  }
}
