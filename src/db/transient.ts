/**
 * PostgreSQL's answer to two transactions waiting on each other: one is
 * aborted (SQLSTATE 40P01, deadlock_detected; 40001 serialization_failure
 * likewise means "run me again"). With the audit log's chain head locked by
 * every audit insert (migration 0013), an enrollment that supersedes a
 * certificate and a revocation of that certificate can meet that way; the
 * aborted one wrote nothing, so running it again is always right.
 */
export function isTransientConflict(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code
  return code === '40P01' || code === '40001'
}

/** Runs `fn` again (at most `attempts` times in all) when PostgreSQL aborted it to break a deadlock. */
export async function retryTransient<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (error) {
      if (!isTransientConflict(error) || attempt >= attempts) throw error
    }
  }
}
