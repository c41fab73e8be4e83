import 'reflect-metadata'
import { parseArgs } from 'node:util'
import { CaError } from '../../ca/index.js'
import { ConfigError, loadConfig } from '../config.js'
import { DataDirLockedError } from '../db/data-dir-lock.js'
import { TokenNameInUseError } from '../db/token-repository.js'
import { ApiError } from '../errors.js'
import { restrictUmask } from '../startup/data-dir.js'
import { info, out, UsageError } from './output.js'

const stringOptions = ['role', 'name', 'cert', 'key', 'key-passphrase-file', 'root', 'profile', 'user', 'device-name', 'platform', 'hostname', 'serial-number', 'csr', 'key-type', 'out', 'reason', 'der', 'device', 'limit', 'action']
const booleanOptions = ['force', 'pem', 'help', 'dry-run', 'renew', 'unsigned', 'replace']
const cliOptions = Object.fromEntries([
  ...stringOptions.map((name) => [name, { type: 'string' as const }]),
  ...booleanOptions.map((name) => [name, { type: 'boolean' as const }]),
])

function help(commands: Record<string, { summary: string }>): void {
  out('kagi: device-certificate authority and enrollment service for GlobalProtect')
  out('')
  out('usage: kagi <command> [options]   (configuration comes from the environment; see README)')
  out('')
  for (const [name, c] of Object.entries(commands)) out(`  ${name.padEnd(14)} ${c.summary}`)
  out('')
  out('`kagi <command> --help` shows a command\'s options.')
}

/** Runs the CLI; returns the exit code (or never returns for `serve`). */
export async function main(argv: string[]): Promise<number> {
  // Before anything is written: every file kagi creates is its user's alone (see data-dir.ts).
  restrictUmask()
  let parsed
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: cliOptions })
  } catch (error) {
    info(`kagi: ${(error as Error).message}`)
    return 2
  }
  const positionals = parsed.positionals
  // `serve` imports as little as possible before it starts opening the database;
  // the rest of the service loads meanwhile (see server.ts).
  if (positionals.length === 1 && positionals[0] === 'serve' && !(parsed.values as Record<string, unknown>).help) {
    try {
      const { serve } = await import('../server.js')
      await serve(loadConfig())
      return -1
    } catch (error) {
      return report('serve', error)
    }
  }
  const { commands } = await import('./commands.js')
  const flags = parsed.values as Record<string, string | boolean | undefined>
  const two = positionals.slice(0, 2).join(' ')
  const name = commands[two] ? two : positionals[0]
  const command = name ? commands[name] : undefined
  if (!command) {
    if (name && name !== 'help') info(`kagi: unknown command "${positionals.join(' ')}"\n`)
    help(commands)
    return name && name !== 'help' ? 2 : 0
  }
  if (flags.help) {
    out(`usage: ${command.usage}`)
    return 0
  }
  const args = positionals.slice(name!.split(' ').length)
  try {
    return await command.run(loadConfig(), args, flags)
  } catch (error) {
    if (error instanceof UsageError) {
      info(`kagi ${name}: ${error.message}\nusage: ${command.usage}`)
      return 2
    }
    return report(name!, error)
  }
}

/** Prints a failure without a stack trace for the errors kagi explains itself; returns the exit code. */
function report(name: string, error: unknown): number {
  if (error instanceof ConfigError || error instanceof DataDirLockedError || error instanceof CaError || error instanceof ApiError || error instanceof TokenNameInUseError) {
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

const code = await main(process.argv.slice(2))
if (code >= 0) process.exitCode = code
