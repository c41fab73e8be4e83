/**
 * The one parser of query strings and HTML form bodies
 * (application/x-www-form-urlencoded), by the WHATWG URL Standard's rules
 * (URLSearchParams): a percent-encoded byte sequence that is not UTF-8
 * (`%ED%A0%80`, a lone surrogate) becomes U+FFFD, which the text rule
 * (src/schemas/text.ts) then refuses with a 400 naming the field, instead of
 * passing through as literal "%ED%A0%80" text. Repeated keys give arrays.
 */
export function parseQueryString(text: string): Record<string, string | string[]> {
  // No prototype: a key named __proto__ is just a key.
  const fields: Record<string, string | string[]> = Object.create(null)
  for (const [key, value] of new URLSearchParams(text)) {
    const previous = fields[key]
    fields[key] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value]
  }
  return fields
}
