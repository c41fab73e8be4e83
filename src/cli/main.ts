import 'reflect-metadata'
import { loadConfig } from '../config.js'
import { restrictUmask } from '../startup/data-dir.js'
import { execute, report } from './execute.js'
import { printCommand, printGroup, printOverview } from './help.js'
import { info } from './output.js'
import { resolve } from './parse.js'
import { forwardToServer } from './socket/forward.js'

/** Runs the CLI; returns the exit code (or never returns for `serve`). */
export async function main(argv: string[]): Promise<number> {
  // Before anything is written: every file kagi creates is its user's alone (see data-dir.ts).
  restrictUmask()
  // `serve` imports as little as possible before it starts opening the database;
  // the rest of the service loads meanwhile (see server.ts).
  if (argv.length === 1 && argv[0] === 'serve') {
    try {
      const { serve } = await import('../server.js')
      await serve(loadConfig())
      return -1
    } catch (error) {
      return report('serve', error)
    }
  }
  const { commands } = await import('./commands.js')
  const parsed = resolve(argv, commands)
  switch (parsed.kind) {
    case 'overview':
      printOverview(commands)
      return 0
    case 'group':
      printGroup(commands, parsed.group)
      return 0
    case 'help':
      printCommand(parsed.command)
      return 0
    case 'error':
      info(parsed.message)
      return 2
  }
  const { name, command, args, flags } = parsed
  try {
    const config = loadConfig()
    // On the embedded database a running `kagi serve` holds the data directory: it runs the command.
    const forwarded = name === 'serve' ? undefined : await forwardToServer(config, argv)
    return forwarded ?? (await execute(name, command, config, args, flags))
  } catch (error) {
    return report(name, error)
  }
}

const code = await main(process.argv.slice(2))
if (code >= 0) process.exitCode = code
