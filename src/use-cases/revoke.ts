import { normalizeSerial, type RevocationReason } from '../../ca/index.js'
import { revokeCertificate, type RevocationResult } from '../db/revocation-repository.js'
import { badRequest, notFound } from '../errors.js'
import { parseOrBadRequest } from '../schemas/parse.js'
import { revokeBody } from '../schemas/revocation.js'
import { pathOf } from '../metrics.js'
import type { KagiServices } from '../startup/services.js'

/** Validates a revocation body into its reason, with a readable 400. */
export function parseRevokeRequest(body: unknown): RevocationReason {
  return parseOrBadRequest(revokeBody, body ?? {}).reason
}

/** Listeners told of each new revocation (the OCSP cache drops its answer for the serial). */
export type RevocationListener = (serial: string) => void

type RevocationServices = Pick<KagiServices, 'db' | 'crl' | 'onRevoked' | 'metrics' | 'siblings'>

/**
 * After revocations are committed (here, or by an enrollment superseding a
 * certificate): the OCSP caches drop their answers and a new CRL is
 * requested. The CRL is signed in the background (the serials' rows are
 * appended to the entries it keeps: no scan of every revoked certificate),
 * so a revocation costs milliseconds even with a long CRL; GET /pki/crl
 * signs at once when a revocation is not on the CRL yet, so no CRL is
 * served without it.
 */
export async function announceRevocations(services: Pick<KagiServices, 'crl' | 'onRevoked' | 'siblings'>, serials: readonly string[]): Promise<void> {
  if (serials.length === 0) return
  for (const serial of serials) for (const listener of services.onRevoked) listener(serial)
  services.crl.issuing.revoked(serials)
  // The other processes of a KAGI_WORKERS cluster drop their cached answers before this one answers.
  await services.siblings?.revoked(serials)
}

/**
 * Revokes a certificate: database and audit first (one transaction), then
 * {@link announceRevocations}. Revoking again keeps the first time and reason.
 */
export async function revoke(services: RevocationServices, serialText: string, reason: RevocationReason, actor: string, clientIp?: string): Promise<RevocationResult> {
  const serial = normalizeSerial(serialText)
  if (!serial) throw badRequest('the serial must be hexadecimal (as returned by the API)', 'invalid_serial')
  const result = await revokeCertificate(services.db, serial, reason, actor, new Date(), clientIp)
  if (!result) throw notFound(`no certificate with serial ${serial}`)
  if (!result.alreadyRevoked) {
    services.metrics.certificateRevoked({ profile: result.profile, platform: result.platform, path: pathOf(actor), reason })
    await announceRevocations(services, [serial])
  }
  return result
}
