import { CaError } from '../../ca/index.js'
import { ConfigError, type Config } from '../config.js'
import { DataDirLockedError } from '../db/data-dir-lock.js'
import { TokenNameInUseError } from '../db/token-repository.js'
import { ApiError } from '../errors.js'
import { inCliTerms } from './api-terms.js'
import type { Command, Flags } from './command.js'
import { info, UsageError } from './output.js'

/**
 * Runs a parsed command and turns what it throws into a message and an exit
 * code: 2 for a usage mistake (with the command's usage), 1 for a failure.
 * The same in a CLI process and in a `kagi serve` running a forwarded command.
 */
export async function execute(name: string, command: Command, config: Readonly<Config>, args: string[], flags: Flags): Promise<number> {
  try {
    return await command.run(config, args, flags)
  } catch (error) {
    if (error instanceof UsageError) {
      info(`kagi ${name}: ${inCliTerms(error.message)}\nusage: ${command.usage}`)
      return 2
    }
    return report(name, error)
  }
}

/** Prints a failure without a stack trace for the errors kagi explains itself; returns the exit code. */
export function report(name: string, error: unknown): number {
  if (error instanceof CaError || error instanceof ApiError) {
    info(`kagi ${name}: ${inCliTerms(error.message)}`)
    return 1
  }
  if (error instanceof ConfigError || error instanceof DataDirLockedError || error instanceof TokenNameInUseError) {
    info(`kagi ${name}: ${error.message}`)
    return 1
  }
  const e = error as { code?: string; message?: string }
  if (e.code === 'ECONNREFUSED') {
    info(`kagi ${name}: cannot reach the database (${e.message}); is PostgreSQL running at DATABASE_URL?`)
    return 1
  }
  info(`kagi ${name}: ${e.message ?? String(error)}`)
  return 1
}
