import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/** Raised when another live process holds the embedded database. */
export class DataDirLockedError extends Error {}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The lock file of the embedded database in `dataDir`. */
export const dataDirLockPath = (dataDir: string): string => join(dataDir, 'db.lock')

/** Who holds a lock, as its file says. */
export interface LockHolder {
  pid: number
  /** What it runs, e.g. `kagi serve`. */
  what?: string
  since?: string
}

/** The live process (other than this one) holding the lock at `lockPath`, or undefined when none does. */
export function lockHolder(lockPath: string): LockHolder | undefined {
  let holder: Partial<LockHolder> = {}
  try {
    holder = JSON.parse(readFileSync(lockPath, 'utf8'))
  } catch {
    // Absent, or unreadable: treated as stale.
  }
  return typeof holder.pid === 'number' && holder.pid !== process.pid && alive(holder.pid) ? (holder as LockHolder) : undefined
}

/**
 * Takes an exclusive lock on the embedded database directory. PGlite lets a
 * second process open the same directory and then silently loses its writes,
 * so kagi refuses instead, naming the process that holds the lock. A lock left
 * by a process that no longer runs is taken over.
 */
export function lockDataDir(lockPath: string, what: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600)
      writeSync(fd, JSON.stringify({ pid: process.pid, what, since: new Date().toISOString() }))
      closeSync(fd)
      let released = false
      const release = (): void => {
        if (released) return
        released = true
        process.removeListener('exit', release)
        rmSync(lockPath, { force: true })
      }
      process.on('exit', release)
      return release
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = lockHolder(lockPath)
      if (holder) {
        throw new DataDirLockedError(
          `the embedded database is in use by process ${holder.pid} (${holder.what ?? 'kagi'}, since ${holder.since ?? '?'}); ` +
            'stop it first, or point kagi at PostgreSQL with DATABASE_URL so that several processes can share it',
        )
      }
      rmSync(lockPath, { force: true })
    }
  }
  throw new DataDirLockedError(`could not lock ${lockPath}`)
}
