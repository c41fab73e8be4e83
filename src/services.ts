import type { Kysely } from 'kysely'
import { Authority, derToPem, softwareSigner, type Clock } from '../ca/index.js'
import type { LoadedCa } from './ca-loader.js'
import type { Config } from './config.js'
import { createCertificateStore } from './db/certificate-store.js'
import type { Database } from './db/database.js'
import { serialToHex } from '../ca/index.js'
import type { IssuanceDeps } from './issuance.js'
import { createUserResolver } from './db/user-repository.js'

/** Everything a route or a CLI command needs, built once from config, database and CA. */
export interface KagiServices extends IssuanceDeps {
  config: Readonly<Config>
  ca: LoadedCa
}

/** Wires the CA core to kysely: the authority signs with the issuing key and stores through the database. */
export function createServices(config: Readonly<Config>, db: Kysely<Database>, ca: LoadedCa, clock?: Clock): KagiServices {
  const issuerSerial = serialToHex(ca.issuing.serial)
  const authority = new Authority({
    issuing: { certificate: ca.issuing, signer: softwareSigner(ca.issuingKey) },
    publicUrl: config.publicUrl,
    caName: config.caName,
    store: createCertificateStore(db, () => issuerSerial),
    clock,
  })
  return {
    config,
    db,
    ca,
    authority,
    caName: config.caName,
    resolveUser: createUserResolver(db),
    chainPem: derToPem(ca.issuing.der, 'CERTIFICATE') + derToPem(ca.root.der, 'CERTIFICATE'),
    chainDer: [ca.issuing.der, ca.root.der],
  }
}
