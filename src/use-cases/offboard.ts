import type { RevocationReason } from '../../ca/index.js'
import { activeSerialsOfDevice, isDeviceId } from '../db/device-repository.js'
import { revokeCertificate } from '../db/revocation-repository.js'
import { findUserByEmail } from '../db/user-repository.js'
import { ApiError, notFound } from '../errors.js'
import { pathOf } from '../metrics.js'
import type { KagiServices } from '../startup/services.js'
import { announceRevocations } from './revoke.js'
import { endSessionsOfUser } from './sessions.js'

/**
 * Offboarding: revoking every certificate of a device (lost, stolen) or of a
 * user (who leaves). Each certificate is revoked as `kagi revoke SERIAL`
 * does (src/use-cases/revoke.ts: its own transaction with its audit event
 * and NOTIFY, the first time and reason kept), then the OCSP caches and the
 * CRL are told once for the whole batch (one CRL signature, not one per
 * certificate). A summary event (device.revoked, user.revoked) records the
 * request and its serials, with the device id or email in its details, so
 * GET /api/v1/audit?device= and ?user= find it.
 *
 * "Active" here is the database status: an expired certificate still marked
 * active is revoked too, so nothing of the device or user is left active.
 */

type OffboardServices = Pick<KagiServices, 'db' | 'crl' | 'onRevoked' | 'metrics' | 'siblings'>

/** Revokes the serials one by one (a failure leaves the earlier ones revoked; running again finishes); returns those newly revoked. */
async function revokeAll(services: OffboardServices, serials: readonly string[], reason: RevocationReason, actor: string, clientIp?: string): Promise<string[]> {
  const revoked: string[] = []
  try {
    for (const serial of serials) {
      const result = await revokeCertificate(services.db, serial, reason, actor, new Date(), clientIp)
      // Revoked concurrently by someone else: not ours to report (that revocation kept its own time and reason).
      if (result && !result.alreadyRevoked) {
        revoked.push(serial)
        services.metrics.certificateRevoked({ profile: result.profile, platform: result.platform, path: pathOf(actor), reason })
      }
    }
  } finally {
    await announceRevocations(services, revoked)
  }
  return revoked
}

async function recordSummary(services: OffboardServices, actor: string, action: string, details: Record<string, unknown>, clientIp?: string): Promise<void> {
  await services.db.insertInto('audit_event').values({ actor, action, serial: null, client_ip: clientIp ?? null, details: JSON.stringify(details) }).execute()
}

/**
 * Revokes the device's active certificates; returns the serials revoked
 * ([] when it had none). Throws not_found for an unknown device id.
 */
export async function revokeDevice(services: OffboardServices, deviceId: string, reason: RevocationReason, actor: string, clientIp?: string): Promise<string[]> {
  const id = deviceId.toLowerCase()
  const device = isDeviceId(id) ? await services.db.selectFrom('device').select('id').where('id', '=', id).executeTakeFirst() : undefined
  if (!device) throw notFound(`no device ${deviceId}`)
  const revoked = await revokeAll(services, await activeSerialsOfDevice(services.db, id), reason, actor, clientIp)
  await recordSummary(services, actor, 'device.revoked', { deviceId: id, reason, serials: revoked }, clientIp)
  return revoked
}

/**
 * Revokes every active certificate of the user (all devices, user
 * certificates too) and ends the user's web sessions; returns the serials
 * revoked. Throws not_found for an unknown email.
 */
export async function revokeUser(services: OffboardServices & Pick<KagiServices, 'sessions'>, email: string, reason: RevocationReason, actor: string, clientIp?: string): Promise<string[]> {
  const user = await findUserByEmail(services.db, email)
  if (!user) throw notFound(`no user ${email.toLowerCase()}`)
  const rows = await services.db.selectFrom('certificate').select('serial').where('user_id', '=', user.id).where('status', '=', 'active').orderBy('issued_at').execute()
  const revoked = await revokeAll(
    services,
    rows.map((r) => r.serial),
    reason,
    actor,
    clientIp,
  )
  await endSessionsOfUser(services, user.email, actor)
  await recordSummary(services, actor, 'user.revoked', { email: user.email, reason, serials: revoked }, clientIp)
  return revoked
}

/**
 * The device a CLI argument names: kagi's device id, or a hardware serial
 * number that exactly one device carries. Throws not_found, or
 * invalid_request when several users' devices share the serial number.
 */
export async function resolveDeviceRef(services: Pick<KagiServices, 'db'>, ref: string): Promise<string> {
  if (isDeviceId(ref)) return ref.toLowerCase()
  const rows = await services.db.selectFrom('device').innerJoin('app_user', 'app_user.id', 'device.user_id').select(['device.id', 'app_user.email']).where('device.serial_number', '=', ref).limit(10).execute()
  if (rows.length === 0) throw notFound(`no device with id or serial number ${ref}`)
  if (rows.length > 1) {
    throw new ApiError('invalid_request', `serial number ${ref} names ${rows.length} devices (${rows.map((r) => `${r.id} of ${r.email}`).join(', ')}): give the device id`)
  }
  return rows[0]!.id
}
