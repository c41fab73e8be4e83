import { z } from 'zod'
import { enrollmentProfiles } from '../../profiles/index.js'
import { platformField } from './identity.js'
import { emptyAsAbsent, safeText } from './text.js'

const optional = <T extends z.ZodType>(schema: T) => z.preprocess(emptyAsAbsent, schema.optional())

/** GET /admin/search (and its CSV): the box and the filters, as the page's form sends them (empty = not set). */
export const adminSearchQuery = z.strictObject({
  q: optional(safeText('q', { max: 254 })),
  status: optional(z.enum(['active', 'revoked', 'expired'], { error: 'status must be active, revoked or expired' })),
  platform: optional(platformField('platform')),
  profile: optional(z.enum(enrollmentProfiles, { error: `profile must be ${enrollmentProfiles.join(' or ')}` })),
  expiringWithinDays: optional(z.coerce.number({ error: 'expires within must be a number of days' }).int('expires within must be a whole number of days').min(0).max(3650)),
  offset: z.preprocess(emptyAsAbsent, z.coerce.number({ error: 'offset must be a number' }).int().min(0).max(1_000_000).default(0)),
})

/** POST /admin/users/<email>/revoke and /admin/devices/<id>/revoke: the reason and the confirmation box. */
export const adminRevokeForm = (fallback: 'keyCompromise' | 'affiliationChanged') =>
  z.object({
    _csrf: z.string().optional(),
    reason: z.preprocess(emptyAsAbsent, z.enum(['unspecified', 'keyCompromise', 'affiliationChanged', 'cessationOfOperation'], { error: 'choose a revocation reason from the list' }).default(fallback)),
    confirm: z.literal('yes').optional(),
  })

/** POST /admin/tokens. */
export const tokenForm = z.object({
  _csrf: z.string().optional(),
  name: safeText('name', { max: 100 }),
  role: z.enum(['admin', 'mdm'], { error: 'role must be admin or mdm' }),
})
