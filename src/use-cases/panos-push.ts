import type { Kysely } from 'kysely'
import { derToPem } from '../../ca/index.js'
import { findActiveCas } from '../db/ca-repository.js'
import type { Database } from '../db/database.js'
import { isLoopbackHost } from '../config.js'
import type { PushSource } from '../panos/desired-state.js'

/** True when a firewall could not reach `url` (loopback, or the default public URL). */
export function unreachableByFirewall(url: string): boolean {
  return isLoopbackHost(new URL(url).hostname)
}

/**
 * What a PAN-OS push installs (`kagi panos push` and the admin console's
 * PAN-OS page): the active root and issuing CA certificates and kagi's OCSP
 * URL. Undefined when there is no CA yet.
 */
export async function panosPushSource(db: Kysely<Database>, publicUrl: string): Promise<PushSource | undefined> {
  const rows = await findActiveCas(db)
  const root = rows.find((r) => r.role === 'root')
  const issuing = rows.find((r) => r.role === 'issuing')
  if (!root || !issuing) return undefined
  return { rootPem: derToPem(Buffer.from(root.der), 'CERTIFICATE'), issuingPem: derToPem(Buffer.from(issuing.der), 'CERTIFICATE'), ocspUrl: `${publicUrl}/ocsp` }
}
