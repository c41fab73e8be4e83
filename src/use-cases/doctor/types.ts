/** How one check of `kagi doctor` came out. */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip'

/** One check's result: a plain-language line, and for warn and fail what to do about it. */
export interface CheckResult {
  /** Short and stable (`database`, `public URL: CRL`): scripts may match on it in the --json output. */
  name: string
  status: CheckStatus
  /** One sentence: what was found. Never a secret (keys, passphrases, the PAN-OS API key). */
  detail: string
  /** What to do, for warn and fail (and, for skip, how to enable the check). */
  fix?: string
}

/** Every network request of a check gives up after this long (connect, send, answer), so doctor ends in bounded time. */
export const NETWORK_TIMEOUT_MS = 5_000

export const ok = (name: string, detail: string): CheckResult => ({ name, status: 'ok', detail })
export const warn = (name: string, detail: string, fix: string): CheckResult => ({ name, status: 'warn', detail, fix })
export const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, status: 'fail', detail, fix })
export const skip = (name: string, detail: string, fix?: string): CheckResult => ({ name, status: 'skip', detail, fix })

/** An error's message without a stack trace, with its code when Node gave one (ECONNREFUSED). */
export function describe(error: unknown): string {
  const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } }
  // fetch() wraps the socket error: its cause says what happened (ECONNREFUSED, ENOTFOUND).
  const inner = e?.cause && (e.cause.code || e.cause.message) ? e.cause : e
  const message = (inner?.message ?? String(error)).split('\n')[0]!
  return inner?.code && !message.includes(inner.code) ? `${inner.code}: ${message}` : message
}
