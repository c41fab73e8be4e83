import { accessSync, constants, readFileSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { UsageError } from './output.js'

/** Reads an input file, or a usage error that names it. */
export function readInput(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`)
  }
}

/**
 * Checks, before anything is issued, that `path` can be written: its folder
 * exists and is writable, and it is not a folder itself. A certificate whose
 * key could not be saved would be active with no one holding the key.
 */
export function assertWritable(path: string, flag: string): void {
  const folder = dirname(resolve(path))
  try {
    if (!statSync(folder).isDirectory()) throw new UsageError(`${flag} ${path}: ${folder} is not a folder`)
    accessSync(folder, constants.W_OK)
  } catch (error) {
    if (error instanceof UsageError) throw error
    throw new UsageError(`${flag} ${path}: cannot write to ${folder} (${(error as NodeJS.ErrnoException).code ?? error}); nothing was issued`)
  }
  try {
    if (statSync(path).isDirectory()) throw new UsageError(`${flag} ${path} is a folder; give a file name`)
    accessSync(path, constants.W_OK)
  } catch (error) {
    if (error instanceof UsageError) throw error
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`${flag} ${path}: cannot overwrite it (${(error as NodeJS.ErrnoException).code}); nothing was issued`)
  }
}
