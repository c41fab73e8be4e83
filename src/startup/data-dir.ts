import { chmodSync, lstatSync, readdirSync, statSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../config.js'

/**
 * The process umask kagi runs with (set by the CLI entry point, for `serve`
 * and every command): files it creates are 0600 and directories 0700, since
 * what kagi writes (the embedded database, the lock file, the generated
 * passphrase, CRL exports, PKCS#12 and bundle files) is nobody else's
 * business. A file meant to be shared (a certificate written by `kagi issue`)
 * is then 0600 too; chmod it to share it.
 */
export const PRIVATE_UMASK = 0o077

/** Sets {@link PRIVATE_UMASK} for the whole process. */
export function restrictUmask(): void {
  process.umask(PRIVATE_UMASK)
}

/** Mode of the data directory and of every directory inside it. */
export const DIR_MODE = 0o700
/** Mode of every file inside the data directory. */
export const FILE_MODE = 0o600

/** A walk through the data directory stops after this many entries (PGlite's database is about 1,000) or this depth. */
const MAX_ENTRIES = 100_000
const MAX_DEPTH = 32

/** Something the data directory check found and fixed (or could not), for a start-up log warning. */
export interface DataDirWarning {
  /** The directory or file concerned. */
  path: string
  /** Its mode before kagi changed it, octal ("755"). */
  mode: string
  message: string
}

const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(3, '0')

/**
 * Makes KAGI_DATA_DIR private to kagi's user: the directory and every
 * directory below it 0700, every file 0600, even when it already existed with
 * looser modes (an existing 0755 directory used to leave the embedded
 * database, whose files PGlite creates 0666 whatever the umask, readable and
 * writable by every local user). PostgreSQL's own rule for its data directory
 * is the same (0700 / 0600, owned by the server's user).
 *
 * Entries with no group or other bits (0400, 0700 files) are left as they are.
 * The directory is tightened first: once it is 0700 no other user can reach
 * anything below it, so the walk that follows cannot be raced by one. The
 * walk never follows a symbolic link (it is skipped, and neither it nor its
 * target is changed); KAGI_DATA_DIR itself may be a link, the operator's
 * choice. It stops after {@link MAX_ENTRIES} entries or {@link MAX_DEPTH} levels.
 *
 * A missing directory is left to whoever creates it first (the embedded
 * database, the generated passphrase, the CRL export), each with mode 0700.
 *
 * @returns a warning naming the directory and its old mode when it was group-
 *   or world-accessible (with how many entries below it were changed), and
 *   one per entry kagi could not change.
 * @throws ConfigError when the path is not a directory or belongs to another user.
 */
export function secureDataDir(dir: string): DataDirWarning[] {
  let top: Stats
  try {
    top = statSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new ConfigError(`KAGI_DATA_DIR: cannot read ${dir}: ${(error as NodeJS.ErrnoException).code ?? error}`)
  }
  if (!top.isDirectory()) throw new ConfigError(`KAGI_DATA_DIR: ${dir} is not a directory`)
  const uid = process.getuid?.()
  if (uid !== undefined && uid !== 0 && top.uid !== uid) {
    throw new ConfigError(`KAGI_DATA_DIR: ${dir} belongs to uid ${top.uid}, not to kagi's user (uid ${uid}); chown it or choose another directory`)
  }
  const warnings: DataDirWarning[] = []
  const exposed = (top.mode & 0o077) !== 0
  if (exposed) {
    try {
      chmodSync(dir, DIR_MODE)
    } catch (error) {
      throw new ConfigError(`KAGI_DATA_DIR: ${dir} has mode ${octal(top.mode)} and cannot be made 0700: ${(error as NodeJS.ErrnoException).code ?? error}`)
    }
  }
  const loose = tightenBelow(dir, warnings)
  if (exposed) {
    const below = loose.length ? `, and ${loose.length} files and directories below it (such as ${loose[0]!.path}, mode ${loose[0]!.mode}) to 0600 and 0700` : ''
    warnings.unshift({ path: dir, mode: octal(top.mode), message: `the data directory ${dir} was accessible to other users (mode ${octal(top.mode)}); changed it to 0700${below}` })
  }
  return warnings
}

/**
 * Walks below `dir` (already 0700), tightening every entry with group or
 * other bits; returns those it changed. Below a 0700 directory they were not
 * exposed, so they are not warned about on their own (PGlite creates its
 * files 0666 whatever the umask, and each start would otherwise warn about
 * the files of the last run); entries kagi cannot change are.
 */
function tightenBelow(dir: string, warnings: DataDirWarning[]): { path: string; mode: string }[] {
  const loose: { path: string; mode: string }[] = []
  const stack: { path: string; depth: number }[] = [{ path: dir, depth: 0 }]
  let seen = 0
  while (stack.length) {
    const { path, depth } = stack.pop()!
    let names: string[]
    try {
      names = readdirSync(path)
    } catch (error) {
      warnings.push({ path, mode: '', message: `cannot list ${path} to check its modes: ${(error as NodeJS.ErrnoException).code ?? error}` })
      continue
    }
    for (const name of names) {
      if (++seen > MAX_ENTRIES) {
        warnings.push({ path: dir, mode: '', message: `stopped checking modes under ${dir} after ${MAX_ENTRIES} entries` })
        return loose
      }
      const entry = join(path, name)
      let st: Stats
      try {
        st = lstatSync(entry)
      } catch {
        continue // removed meanwhile
      }
      if (st.isSymbolicLink()) continue
      const isDir = st.isDirectory()
      if (st.mode & 0o077) {
        try {
          chmodSync(entry, isDir ? DIR_MODE : FILE_MODE)
          loose.push({ path: entry, mode: octal(st.mode) })
        } catch (error) {
          warnings.push({ path: entry, mode: octal(st.mode), message: `${entry} has mode ${octal(st.mode)} and cannot be changed (${(error as NodeJS.ErrnoException).code ?? error}; owner uid ${st.uid}); fix it by hand` })
        }
      }
      if (isDir) {
        if (depth + 1 < MAX_DEPTH) stack.push({ path: entry, depth: depth + 1 })
        else warnings.push({ path: entry, mode: '', message: `did not check modes below ${entry}: deeper than ${MAX_DEPTH} levels` })
      }
    }
  }
  return loose
}
