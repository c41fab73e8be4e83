/**
 * Domain errors of the CA core. They carry a stable `code` and a message meant
 * for the requester; they know nothing of HTTP (src/errors.ts maps codes to
 * statuses in one place).
 */
export type CaErrorCode =
  | 'csr_invalid' // not a parseable PKCS#10 request
  | 'csr_signature_invalid' // proof of possession failed
  | 'key_rejected' // key type or size outside policy
  | 'profile_violation' // a verified field the profile needs is missing or malformed
  | 'ca_not_initialized'
  | 'ca_already_initialized'
  | 'ca_passphrase_wrong'
  | 'ca_import_invalid'
  | 'not_found'

export class CaError extends Error {
  constructor(
    readonly code: CaErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'CaError'
  }
}
