import type { z } from 'zod'
import { CaError } from '../../ca/index.js'
import { ApiError, type ApiErrorCode } from '../errors.js'
import type { MessageKey } from './i18n.js'

/**
 * What an employee is told when enrollment refuses a request. The pipeline's
 * messages name API fields ("device.hostname", KAGI_* settings) for
 * developers and admins; the page maps the stable error code (src/errors.ts,
 * ca/errors.ts) to a sentence of the translation table instead, and never
 * shows the raw message. A code not listed gets the generic sentence.
 */
const byCode: Partial<Record<ApiErrorCode, MessageKey>> = {
  device_name_in_use: 'errorDeviceNameInUse',
  hostname_taken: 'errorHostnameTaken',
  // From the page, only a host name the company's rules refuse (a missing one is caught by the form).
  profile_violation: 'errorHostnameRules',
  enrollment_conflict: 'errorBusy',
  not_found: 'errorNotYours',
  unauthorized: 'errorNotAllowed',
  forbidden: 'errorNotAllowed',
  payload_too_large: 'tooLarge',
}

/** The translation key for a refused request, by its error code. */
export function refusalKey(error: unknown): MessageKey {
  const code = error instanceof ApiError || error instanceof CaError ? error.code : undefined
  return (code && byCode[code]) || 'errorGeneric'
}

/** The enrollment form's fields, each with the sentence that says how to fill it in. */
const byField: Record<string, MessageKey> = {
  platform: 'formPlatform',
  deviceName: 'formDeviceName',
  kind: 'formKind',
  hostname: 'formHostname',
}

/** The translation key for the first problem of a form, by the field it is about (the schema's wording is for the API). */
export function formIssueKey(error: z.ZodError): MessageKey {
  const field = error.issues[0]?.path[0]
  return (typeof field === 'string' && byField[field]) || 'errorGeneric'
}
