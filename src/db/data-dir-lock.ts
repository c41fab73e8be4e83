import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'

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
      let holder: { pid?: number; what?: string; since?: string } = {}
      try {
        holder = JSON.parse(readFileSync(lockPath, 'utf8'))
      } catch {
        // An unreadable lock file is treated as stale.
      }
      if (holder.pid && holder.pid !== process.pid && alive(holder.pid)) {
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
