import type { z } from 'zod'
import { badRequest } from '../errors.js'

/**
 * Parses input with a zod schema, or throws one readable 400 (`invalid_request`)
 * for the first problem: unknown keys are listed, and the field's path is put
 * in front of the message unless the message already starts with it.
 */
export function parseOrBadRequest<T>(schema: z.ZodType<T>, input: unknown, unknownKeys = 'field(s)'): T {
  const parsed = schema.safeParse(input)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  if (issue.code === 'unrecognized_keys') throw badRequest(`unknown ${unknownKeys}: ${issue.keys.join(', ')}`, 'invalid_request')
  const path = issue.path.join('.')
  const named = !path || issue.message.startsWith(path) || issue.message.startsWith(path.split('.')[0]!)
  throw badRequest(named ? issue.message : `${path}: ${issue.message}`, 'invalid_request')
}
