import { z } from 'zod'
import { isDeviceId } from '../db/device-repository.js'
import { deviceBody } from './enrollment.js'
import { emailField, profileField } from './identity.js'

/**
 * The body of POST /api/v1/scep/challenges: whom the challenge enrolls. The
 * certificate's subject and SANs come from this record (and kagi's
 * inventory), never from the CSR.
 */
export const scepChallengeBody = z.strictObject({
  user: emailField('user'),
  device: z
    .union([z.strictObject({ id: z.string().refine(isDeviceId, 'device.id must be a kagi device id') }), deviceBody], { error: 'device must be {"id": …} or {"name", "platform", "hostname"?, "serialNumber"?}' })
    .describe('The device: the id of one of the user\'s devices, or a device as POST /api/v1/certificates takes it')
    .optional(),
  profile: profileField('profile'),
})
export type ScepChallengeBody = z.infer<typeof scepChallengeBody>

/** The query of /scep: the operation (RFC 8894 §4.1), its message, and optionally the profile a challenge must be bound to. */
export const scepQuery = z.object({
  operation: z.string({ error: 'operation is required (GetCACaps, GetCACert or PKIOperation)' }).max(64).describe('GetCACaps, GetCACert or PKIOperation (RFC 8894 §4.1)'),
  message: z.string().max(1_000_000, 'message is too large').describe('PKIOperation by GET: the base64 pkiMessage').optional(),
  profile: z.enum(['user', 'device'], { error: 'profile must be user or device' }).describe('The profile the challenge must be bound to (a SCEP profile’s URL says it)').optional(),
})
