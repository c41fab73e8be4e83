import type { z } from 'zod'
import type { TokenRole } from '../db/token-repository.js'
import { apiErrorStatus, type ApiErrorCode } from '../errors.js'

/**
 * The vocabulary of the operation catalogue (operations.ts): what one HTTP
 * operation is, in terms the OpenAPI document (document.ts) turns into JSON.
 */

/** Who may call an operation. */
export type Access =
  /** Anyone (CA material, OCSP, SCEP, health). */
  | { kind: 'public' }
  /** `Authorization: Bearer <API token>` of one of `roles`; `basic` also accepts the token as an HTTP Basic password (NDES clients). */
  | { kind: 'token'; roles: readonly TokenRole[]; basic?: boolean }
  /** The signed-in employee's session cookie. */
  | { kind: 'session' }
  /** Open, unless KAGI_METRICS_TOKEN is set: then that token as a Bearer token. */
  | { kind: 'metrics' }

/** A payload: JSON described by a zod schema, text, or bytes. */
export type Payload = z.ZodType | 'text' | 'binary'

/** One answer of an operation. */
export interface ResponseSpec {
  description: string
  /** Media type → payload; none for an empty answer. */
  content?: Readonly<Record<string, Payload>>
  /** Response header → what it carries. */
  headers?: Readonly<Record<string, string>>
}

/** A request body. */
export interface BodySpec {
  /** Media type → payload; the same zod schema the route parses with. */
  content: Readonly<Record<string, Payload>>
  /** False when the route takes a missing body as `{}` (every field then has its default). */
  required: boolean
  description?: string
}

/** Values for the document's examples and the curl command (each is checked against its schema by the tests). */
export interface OperationExample {
  params?: Readonly<Record<string, string>>
  query?: Readonly<Record<string, string>>
  body?: unknown
  /** A file the body is read from, for binary bodies (curl --data-binary @file). */
  bodyFile?: string
  /** Extra curl arguments, e.g. where to save a download. */
  curl?: readonly string[]
}

/** One HTTP operation kagi serves. */
export interface Operation {
  /** OpenAPI operationId: unique, camelCase. */
  id: string
  method: 'GET' | 'POST'
  /** The path in OpenAPI form: `/api/v1/certificates/{serial}`. */
  path: string
  /** The Fastify route pattern, when it is not the path with `{name}` as `:name` (a wildcard). */
  route?: string
  tag: Tag
  summary: string
  description?: string
  access: Access
  /** Path parameters, in path order: the schema the route parses with, or one of response-schemas.ts pathParams. */
  params?: Readonly<Record<string, z.ZodType>>
  /** The query's zod object schema, as the route parses it. */
  query?: z.ZodType
  body?: BodySpec
  /** Status → answer. 401 and 403 of the access check are added by the document. */
  responses: Readonly<Record<number, ResponseSpec>>
  example?: OperationExample
}

/** The groups of the reference, in the order the page shows them. */
export const tags = [
  { name: 'Certificates', description: 'Issue, list, fetch and revoke certificates (admin and MDM tokens; revocation needs an admin token).' },
  { name: 'Users', description: 'Search people, see one with their devices and sign-ins, offboard someone who leaves (admin token).' },
  { name: 'Devices', description: 'Search the device inventory, see one device and its history, revoke a lost or stolen device (admin token); the owner’s own download (session).' },
  { name: 'Audit', description: 'The audit log (admin token).' },
  { name: 'MDM', description: 'Per-OS enrollment profiles for MDMs (mdm or admin token).' },
  { name: 'SCEP', description: 'SCEP (RFC 8894) for devices, one-time challenges for MDMs, and the NDES challenge page.' },
  { name: 'PKI', description: 'Public CA material: the CA certificates and the CRLs (no authentication).' },
  { name: 'OCSP', description: 'The OCSP responder (RFC 6960), for PAN-OS, browsers and openssl (no authentication).' },
  { name: 'Operations', description: 'Liveness, readiness and Prometheus metrics.' },
  { name: 'Reference', description: 'This API reference: the OpenAPI document and this page.' },
] as const

export type Tag = (typeof tags)[number]['name']

/**
 * The refusals an operation can answer, grouped by HTTP status as the one
 * table of codes (src/errors.ts) assigns them. The body is the error object.
 */
export function refusals(...codes: ApiErrorCode[]): Record<number, ResponseSpec> {
  const byStatus = new Map<number, ApiErrorCode[]>()
  for (const code of codes) byStatus.set(apiErrorStatus[code], [...(byStatus.get(apiErrorStatus[code]) ?? []), code])
  return Object.fromEntries([...byStatus].map(([status, list]) => [status, { description: `Refused: ${list.join(', ')}` }]))
}

/** What any JSON body can be refused for before its fields are read: not JSON, too large, another media type. */
export const jsonBodyRefusals = ['bad_request', 'payload_too_large', 'unsupported_media_type'] as const satisfies readonly ApiErrorCode[]

/** JSON content described by a zod schema. */
export const json = (schema: z.ZodType): Record<string, Payload> => ({ 'application/json': schema })

/** The person the examples are about. */
export const exampleEmail = 'alice@example.com'
