import type { Config } from '../config.js'
import { openRuntime, type Runtime } from '../startup/runtime.js'
import { warn } from './output.js'

/** Parsed command-line flags. */
export type Flags = Record<string, string | boolean | undefined>

/** One CLI command: its help and what it runs; `run` returns the exit code (-1: keep running). */
export interface Command {
  summary: string
  usage: string
  run: (config: Readonly<Config>, args: string[], flags: Flags) => Promise<number>
}

/** Opens the database for one command (warning about a generated passphrase or a data directory made private) and always closes it. */
export async function withRuntime<T>(config: Readonly<Config>, purpose: string, fn: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await openRuntime(config, purpose)
  for (const w of runtime.dataDirWarnings) warn(w.message)
  if (runtime.passphrase.warning) warn(runtime.passphrase.warning)
  try {
    return await fn(runtime)
  } finally {
    await runtime.database.close()
  }
}
