import { z } from 'zod'
import { normalizeSerial, revocationReasons, type RevocationReason } from '../../ca/index.js'
import { revokeCertificate, type RevocationResult } from '../db/revocation-repository.js'
import { badRequest, notFound } from '../errors.js'
import type { KagiServices } from '../startup/services.js'
import { parseOrBadRequest } from '../validation.js'

/** Body of POST /api/v1/certificates/<serial>/revoke. */
export const revokeRequestSchema = z.strictObject({
  reason: z.enum(revocationReasons, { error: `reason must be one of ${revocationReasons.join(', ')}` }).default('unspecified'),
})

/** Validates a revocation body into its reason, with a readable 400. */
export function parseRevokeRequest(body: unknown): RevocationReason {
  return parseOrBadRequest(revokeRequestSchema, body ?? {}).reason
}

/** Listeners told of each new revocation (the OCSP cache drops its answer for the serial). */
export type RevocationListener = (serial: string) => void

/**
 * Revokes a certificate: database and audit first (one transaction), then the
 * OCSP cache is invalidated and a new CRL is requested. The CRL is signed in
 * the background, so a revocation costs milliseconds even with a long CRL;
 * GET /pki/crl waits for that signature, so no CRL is served without it.
 * Revoking again keeps the first time and reason.
 */
export async function revoke(services: Pick<KagiServices, 'db' | 'crl' | 'onRevoked'>, serialText: string, reason: RevocationReason, actor: string): Promise<RevocationResult> {
  const serial = normalizeSerial(serialText)
  if (!serial) throw badRequest('the serial must be hexadecimal (as returned by the API)', 'invalid_serial')
  const result = await revokeCertificate(services.db, serial, reason, actor)
  if (!result) throw notFound(`no certificate with serial ${serial}`)
  if (!result.alreadyRevoked) {
    for (const listener of services.onRevoked) listener(serial)
    void services.crl.issuing.regenerate()
  }
  return result
}
