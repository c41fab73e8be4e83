import { CaError, type CaErrorCode } from '../ca/index.js'

/**
 * The one table of kagi's API error codes and their HTTP statuses. A code is
 * a contract (clients branch on it); the message is for people.
 */
export const apiErrorStatus = {
  bad_request: 400,
  invalid_request: 400, // a field or query parameter is malformed; the message names it
  invalid_serial: 400,
  invalid_platform: 400,
  profile_violation: 400, // the request does not fit the certificate profile
  scep_unavailable: 400, // delivery=scep for a platform that has no SCEP payload (only Apple profiles do)
  scep_malformed: 400, // a SCEP body or message that is no pkiMessage (RFC 8894 §3.2)
  scep_unsupported_operation: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  certificate_current: 409, // the device's certificate is not near expiry: renew=true replaces it
  hostname_taken: 409, // another user's active device certificate holds the host name
  device_name_in_use: 409, // the page: the user already has a device of that name
  enrollment_conflict: 409, // concurrent enrollments of one device kept colliding
  payload_too_large: 413,
  unsupported_media_type: 415,
  // The CA core's codes (ca/errors.ts), which reach clients as they are.
  csr_invalid: 400,
  csr_signature_invalid: 400,
  key_rejected: 400,
  ca_import_invalid: 400,
  ca_already_initialized: 409,
  ca_not_initialized: 503,
  database_unavailable: 503, // PostgreSQL is down or restarting: retry (GET /readyz says when it is back)
  ca_passphrase_wrong: 500,
} as const satisfies Record<string, number> & Record<CaErrorCode, number>

export type ApiErrorCode = keyof typeof apiErrorStatus

/** An error with a stable code (and so an HTTP status), raised by routes and use cases in src/. */
export class ApiError extends Error {
  readonly statusCode: number
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
    this.statusCode = apiErrorStatus[code]
  }
}

export const badRequest = (message: string, code: ApiErrorCode = 'bad_request'): ApiError => new ApiError(code, message)
export const notFound = (message: string): ApiError => new ApiError('not_found', message)

/** JSON error body: `{ "error": { "code", "message" } }`. */
export interface ErrorBody {
  error: { code: string; message: string }
}

/** Fastify's own client errors (bad JSON, wrong content type, body too large) keep their status. */
const fastifyCodes: Record<string, ApiErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
}

/**
 * A lost or refused database connection (PostgreSQL restarting, failing
 * over, unreachable): the client may retry, so 503 rather than 500. SQLSTATE
 * class 08 is "connection exception", 57P01–57P03 an administrator or crash
 * shutdown or "cannot connect now" (PostgreSQL Appendix A); the others are
 * what pg and Node say when the socket goes away.
 */
function isDatabaseOutage(error: { code?: string; message?: string }): boolean {
  if (typeof error.code === 'string' && (/^08[0-9A-Z]{3}$/.test(error.code) || /^57P0[123]$/.test(error.code) || error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET')) return true
  return typeof error.message === 'string' && /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/.test(error.message)
}

/**
 * Turns any error into a status and a body safe to send: client errors keep
 * their message, server errors say only "internal error" (details go to the
 * log with the request id, never to the client).
 */
export function toHttpError(error: unknown): { status: number; body: ErrorBody; internal: boolean } {
  if (error instanceof ApiError) return { status: error.statusCode, body: { error: { code: error.code, message: error.message } }, internal: false }
  if (error instanceof CaError) {
    const status = apiErrorStatus[error.code] ?? 500
    if (status < 500) return { status, body: { error: { code: error.code, message: error.message } }, internal: false }
  }
  const e = error as { statusCode?: number; code?: string; message?: string; name?: string }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = (e.code && fastifyCodes[e.code]) ?? (e.statusCode === 413 ? 'payload_too_large' : e.statusCode === 415 ? 'unsupported_media_type' : 'bad_request')
    const message = e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e.name === 'SyntaxError' ? 'the request body is not valid JSON' : (e.message ?? 'bad request')
    return { status: e.statusCode, body: { error: { code, message } }, internal: false }
  }
  if (e && isDatabaseOutage(e)) return { status: 503, body: { error: { code: 'database_unavailable', message: 'the database is unavailable; try again shortly' } }, internal: true }
  return { status: 500, body: { error: { code: 'internal', message: 'internal error; the server log has details under this request id' } }, internal: true }
}
