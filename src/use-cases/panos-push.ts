import type { Kysely } from 'kysely'
import { derToPem } from '../../ca/index.js'
import { findActiveCas } from '../db/ca-repository.js'
import type { Database } from '../db/database.js'
import { findToken } from '../db/token-repository.js'
import { isLoopbackHost } from '../config.js'
import type { PushSource } from '../panos/desired-state.js'

/** True when a firewall could not reach `url` (loopback, or the default public URL). */
export function unreachableByFirewall(url: string): boolean {
  return isLoopbackHost(new URL(url).hostname)
}

/**
 * What a PAN-OS push installs (`kagi panos push` and the admin console's
 * PAN-OS page): the active root and issuing CA certificates, kagi's OCSP URL
 * and its SCEP URLs (for `--scep`). Undefined when there is no CA yet.
 */
export async function panosPushSource(db: Kysely<Database>, publicUrl: string): Promise<PushSource | undefined> {
  const rows = await findActiveCas(db)
  const root = rows.find((r) => r.role === 'root')
  const issuing = rows.find((r) => r.role === 'issuing')
  if (!root || !issuing) return undefined
  return {
    rootPem: derToPem(Buffer.from(root.der), 'CERTIFICATE'),
    issuingPem: derToPem(Buffer.from(issuing.der), 'CERTIFICATE'),
    ocspUrl: `${publicUrl}/ocsp`,
    scepUrl: `${publicUrl}/scep`,
    scepChallengeUrl: `${publicUrl}/certsrv/mscep_admin/`,
  }
}

/**
 * Why the firewall could not fetch SCEP challenges with `token`, or undefined:
 * it must be a live mdm token of this kagi (the NDES page would also take an
 * admin token, but the firewall stores it, so it gets no more than it needs).
 * Checked before the push, since the firewall would only fail at enrollment.
 */
export async function scepTokenProblem(db: Kysely<Database>, token: string): Promise<string | undefined> {
  const found = await findToken(db, token)
  if (!found) return 'KAGI_PANOS_SCEP_TOKEN is not a live token of this kagi (revoked, or from another installation): create one with `kagi token create --role mdm --name panos-scep`'
  if (found.role !== 'mdm') return `KAGI_PANOS_SCEP_TOKEN is the ${found.role} token "${found.name}": give the firewall an mdm token (\`kagi token create --role mdm --name panos-scep\`)`
  return undefined
}
