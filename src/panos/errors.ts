/**
 * What went wrong while talking to PAN-OS, as a closed set of kinds so the
 * CLI (and later the admin console) can react without parsing messages.
 */
export type PanosErrorKind =
  /** The API key or the user name and password were refused (HTTP or response code 403). */
  | 'auth'
  /** The host could not be reached: refused, reset, unknown name, no route. */
  | 'unreachable'
  /** The firewall's TLS certificate did not verify. */
  | 'tls'
  /** No answer in time, or a commit job still running at the deadline. */
  | 'timeout'
  /** The firewall answered a request with an error (invalid object, bad xpath, ...). */
  | 'rejected'
  /** kagi's own input is not acceptable: a name over 63 characters or with forbidden characters, a non-CA certificate, a bad OCSP URL. */
  | 'invalid_input'
  /** A portal or gateway named in the configuration does not exist. */
  | 'not_found'
  /** The commit job finished with FAIL. */
  | 'commit_failed'
  /** The answer was not the XML the API documents. */
  | 'protocol'

/** A failure talking to PAN-OS; the message is plain and never contains a secret. */
export class PanosError extends Error {
  constructor(
    readonly kind: PanosErrorKind,
    message: string,
    /** The XML API response code, when the firewall sent one (e.g. 12 invalid object). */
    readonly code?: number,
    /** The firewall's own message lines. */
    readonly lines: readonly string[] = [],
  ) {
    super(message)
    this.name = 'PanosError'
  }
}

/**
 * Meanings of the XML API response codes, from pango `errors/panos.go` and the
 * PANdocs error-code table (reference §1.3).
 */
export const responseCodes: Readonly<Record<number, string>> = {
  1: 'unknown command',
  2: 'internal error',
  3: 'internal error',
  4: 'internal error',
  5: 'internal error',
  6: 'bad xpath',
  7: 'object not present',
  8: 'object not unique',
  10: 'reference count not zero',
  11: 'internal error',
  12: 'invalid object',
  14: 'operation not possible',
  15: 'operation denied',
  16: 'unauthorized',
  17: 'invalid command',
  18: 'malformed command',
  19: 'success',
  20: 'success',
  22: 'session timed out',
  400: 'bad request',
  403: 'forbidden',
}

/** Removes every occurrence of the given secrets from a text (defence in depth for echoed input). */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]')
  return out
}
