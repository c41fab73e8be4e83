import { z } from 'zod'
import { safeText } from './text.js'

/** The query of GET /api/v1/certificates: filters (email; device id or hardware serial number) and paging. */
export const listQuery = z.strictObject({
  user: safeText('user', { max: 254 }).describe("The owner's email").optional(),
  device: safeText('device', { max: 128 }).describe("kagi's device id or the hardware serial number").optional(),
  status: z.enum(['active', 'revoked', 'expired'], { error: 'status must be active, revoked or expired' }).optional(),
  expiringWithinDays: z.coerce.number({ error: 'expiringWithinDays must be a number of days' }).int().min(0).max(3650).describe('Active certificates that expire within this many days').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
})
