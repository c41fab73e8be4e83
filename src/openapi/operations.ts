import { apiOperations } from './operations-api.js'
import { protocolOperations } from './operations-protocols.js'
import type { Operation } from './operation-types.js'

/**
 * The one catalogue of kagi's HTTP API: every operation under /api/v1,
 * /pki, /ocsp, /scep and /certsrv, the health and metrics endpoints, and
 * this reference, grouped as the reference shows them. Bodies and queries
 * are the zod schemas the routes parse with (src/schemas), never copies;
 * JSON answers are response-schemas.ts. The entries live in
 * operations-api.ts (certificates, users, devices, audit, MDM profiles) and
 * operations-protocols.ts (SCEP and its challenges, PKI, OCSP, health,
 * metrics, this reference).
 *
 * The OpenAPI document (document.ts) and the /docs page are generated from
 * it, and test/routes/openapi.test.ts fails when a route is missing here or
 * an entry names no route. The browser's pages (/, /admin, /auth/saml/…,
 * the forms) are not part of the API and are not listed.
 */
export const operations: readonly Operation[] = [...apiOperations, ...protocolOperations]

/** The Fastify route pattern of an operation: `{name}` → `:name`, unless it names its own. */
export function routePattern(operation: Operation): string {
  return operation.route ?? operation.path.replace(/\{([^}]+)\}/g, ':$1')
}
