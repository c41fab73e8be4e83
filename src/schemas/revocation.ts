import { z } from 'zod'
import { revocationReasons } from '../../ca/index.js'

/** Body of POST /api/v1/certificates/<serial>/revoke (and `kagi revoke --reason`). */
export const revokeBody = z.strictObject({
  reason: z.enum(revocationReasons, { error: `reason must be one of ${revocationReasons.join(', ')}` }).describe('The CRL reason code (RFC 5280 §5.3.1)').default('unspecified'),
})
