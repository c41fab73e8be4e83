import { z } from 'zod'
import { revocationReasons } from '../../ca/index.js'
import { isDeviceId } from '../db/device-repository.js'
import { badRequest } from '../errors.js'
import { listQuery } from './certificates.js'
import { emailField, platformField } from './identity.js'
import { emptyAsAbsent, safeText } from './text.js'

/**
 * Queries and bodies of the admin API (src/routes/api-v1-users.ts,
 * api-v1-admin-devices.ts, api-v1-audit.ts) and the certificate list's CSV
 * export. A list answers JSON, at most 1000 rows a page (default 100), or CSV
 * (`format=csv` or `Accept: text/csv`), at most 100,000 rows (default 10,000),
 * since an export is usually wanted whole.
 */

export const JSON_PAGE = { default: 100, max: 1000 } as const
export const CSV_PAGE = { default: 10_000, max: 100_000 } as const

const format = z.preprocess(emptyAsAbsent, z.enum(['json', 'csv'], { error: 'format must be json or csv' }).describe('json (default) or csv; Accept: text/csv also asks for CSV').optional())
const limit = z.preprocess(
  emptyAsAbsent,
  z.coerce
    .number({ error: 'limit must be a number' })
    .int('limit must be a whole number')
    .min(1, 'limit must be at least 1')
    .max(CSV_PAGE.max)
    .describe(`Rows per page: JSON at most ${JSON_PAGE.max} (default ${JSON_PAGE.default}), CSV at most ${CSV_PAGE.max} (default ${CSV_PAGE.default})`)
    .optional(),
)
const offset = z.preprocess(emptyAsAbsent, z.coerce.number({ error: 'offset must be a number' }).int('offset must be a whole number').min(0).max(1_000_000).describe('Rows to skip').default(0))
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(emptyAsAbsent, schema.optional())

/** A search prefix (see src/db/admin-queries.ts). */
const q = optional(safeText('q', { max: 254 }).describe('Search: a prefix, case-insensitive'))

/**
 * The page size once the format is known (the Accept header counts, so the
 * schema cannot decide): the given limit within the format's maximum, or the
 * format's default.
 */
export function pageLimit(limit: number | undefined, csv: boolean): number {
  const page = csv ? CSV_PAGE : JSON_PAGE
  if (limit === undefined) return page.default
  if (limit > page.max) throw badRequest(`limit must be at most ${JSON_PAGE.max} (${CSV_PAGE.max} with format=csv)`, 'invalid_request')
  return limit
}

/** GET /api/v1/users */
export const userListQuery = z.strictObject({ q, limit, offset, format })

/** GET /api/v1/devices */
export const deviceListQuery = z.strictObject({ q, user: optional(emailField('user').describe("The owner's email")), platform: optional(platformField('platform')), limit, offset, format })

/** An instant: ISO 8601 ("2026-05-01", "2026-05-01T09:00:00Z"). */
const instant = (field: string) =>
  optional(
    z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/, `${field} must be an ISO 8601 date or time such as 2026-05-01 or 2026-05-01T09:00:00Z`)
      .transform((text) => new Date(text))
      .refine((date) => !Number.isNaN(date.getTime()), `${field} is not a valid date`)
      .describe(`ISO 8601 date or time such as 2026-05-01 or 2026-05-01T09:00:00Z${field === 'until' ? ' (exclusive)' : ''}`),
  )

/** GET /api/v1/audit (filters: src/db/admin-queries.ts AuditFilter). */
export const auditListQuery = z
  .strictObject({
    type: optional(
      safeText('type', { max: 100 })
        .regex(/^[a-z0-9.-]+$/i, 'type must be an action such as certificate.revoked, or a prefix such as certificate.')
        .describe('An action such as certificate.revoked, or a prefix ending in a dot such as certificate.'),
    ),
    actor: optional(safeText('actor', { max: 300 }).describe('Exactly as recorded: token:<name>, user:<email> or kagi')),
    user: optional(emailField('user').describe("Events about the user's certificates, by the user, or naming the user")),
    device: optional(safeText('device', { max: 36 }).refine(isDeviceId, 'device must be a device id (a UUID)').describe("Events about the device's certificates or naming the device (kagi's device id)")),
    since: instant('since'),
    until: instant('until'),
    limit,
    offset,
    format,
  })
  

/** GET /api/v1/certificates with its CSV export (the list's filters, unchanged). */
export const certificateListQuery = listQuery.extend({ limit, format })

/** The body of a bulk revocation, with its default reason. */
const revokeWith = (fallback: (typeof revocationReasons)[number]) =>
  z.strictObject({ reason: z.enum(revocationReasons, { error: `reason must be one of ${revocationReasons.join(', ')}` }).default(fallback) })

/** POST /api/v1/devices/<id>/revoke (and `kagi revoke --device`): a lost or stolen device. */
export const revokeDeviceBody = revokeWith('keyCompromise')

/** POST /api/v1/users/<email>/revoke (and `kagi revoke --user`): someone who leaves. */
export const revokeUserBody = revokeWith('affiliationChanged')

/** The <email> of /api/v1/users/<email>. */
export const userParam = emailField('email')
