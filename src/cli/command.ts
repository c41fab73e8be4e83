import type { Config } from '../config.js'
import { openRuntime, type Runtime } from '../startup/runtime.js'
import { currentInvocation } from './invocation.js'
import { warn } from './output.js'

/** Parsed command-line flags. */
export type Flags = Record<string, string | boolean | undefined>

/** One flag a command takes, for the parser and for `--help`. */
export interface OptionSpec {
  /** Placeholder of its value (`EMAIL`, `admin|mdm`); absent for a flag without a value. */
  value?: string
  /** One sentence: what it does. */
  help: string
  /** The value is a file path: a command forwarded to `kagi serve` gets it made absolute against the caller's folder. */
  file?: boolean
}

/** One CLI command: what it runs; `run` returns the exit code (-1: keep running). */
export interface Command {
  summary: string
  usage: string
  /** The flags it accepts (besides --help); any other is an error naming it. */
  options?: Record<string, OptionSpec>
  /** Its one positional argument, if it takes one (`SERIAL`), and the only values it may have, if listed; more arguments are an error. */
  argument?: { name: string; help: string; choices?: readonly string[] }
  /** One complete command line, shown by `--help`. */
  example?: string
  /**
   * Why it cannot run inside a running `kagi serve` (forwarded over the
   * socket), or undefined when it can. Absent: it always can.
   */
  notInServer?: (flags: Flags) => string | undefined
  run: (config: Readonly<Config>, args: string[], flags: Flags) => Promise<number>
}

/**
 * A command as the table in commands.ts lists it: with the options the parser
 * accepts and the example `--help` shows. (`Command` leaves them optional only
 * because panos-command.ts declares its help in commands.ts for now.)
 */
export type ListedCommand = Command & Required<Pick<Command, 'options' | 'example'>>

/**
 * Opens the database for one command (warning about a generated passphrase, a
 * data directory made private or the public URL) and always closes it. A command forwarded to
 * `kagi serve` uses the server's open runtime instead, and leaves it open.
 * The command should read the configuration from the runtime: its public URL is the CA's.
 */
export async function withRuntime<T>(config: Readonly<Config>, purpose: string, fn: (runtime: Runtime) => Promise<T>, options: { anyPublicUrl?: boolean } = {}): Promise<T> {
  const invocation = currentInvocation()
  if (invocation) return fn(invocation.runtime)
  const runtime = await openRuntime(config, purpose, options)
  for (const w of runtime.dataDirWarnings) warn(w.message)
  if (runtime.passphrase.warning) warn(runtime.passphrase.warning)
  for (const note of runtime.publicUrlNotes) warn(note)
  try {
    return await fn(runtime)
  } finally {
    await runtime.database.close()
  }
}
