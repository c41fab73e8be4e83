import { z } from 'zod'
import { unsafeCharacter } from '../../enrollment/bundle-text.js'

/**
 * The one rule for text that reaches the database, a certificate or a
 * bundle: trimmed, within length, and free of characters a bundle cannot
 * carry (enrollment/bundle-text.ts: controls, NUL, noncharacters, lone
 * surrogates, bidi overrides). Messages name the field, as the API, the page
 * and the CLI all show them.
 */
export function safeText(field: string, options: { max: number; min?: number }) {
  const min = options.min ?? 1
  return z
    .string({ error: (issue) => (issue.input === undefined ? `${field} is required` : `${field} must be text`) })
    .trim()
    .superRefine((value, ctx) => {
      const bad = unsafeCharacter(value)
      if (bad) ctx.addIssue({ code: 'custom', message: `${field} contains a character that is not allowed (${bad}: a control, invisible or direction-changing character)` })
      else if (value.length < min) ctx.addIssue({ code: 'custom', message: min === 1 ? `${field} must not be empty` : `${field} must be at least ${min} characters` })
      else if (value.length > options.max) ctx.addIssue({ code: 'custom', message: `${field} is too long (${options.max} characters at most)` })
    })
    .describe(`Text of ${min} to ${options.max} characters (after trimming), without control, invisible or direction-changing characters`)
}

/** Query, form and environment values arrive as '' when left empty: treat that as absent. */
export const emptyAsAbsent = (value: unknown): unknown => (value === '' ? undefined : value)
