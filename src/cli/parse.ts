import { parseArgs } from 'node:util'
import type { Flags, ListedCommand } from './command.js'
import { didYouMean } from './suggest.js'

/** What a command line asks for. */
export type Resolution =
  | { kind: 'overview' }
  | { kind: 'group'; group: string }
  | { kind: 'help'; name: string; command: ListedCommand }
  | { kind: 'run'; name: string; command: ListedCommand; args: string[]; flags: Flags }
  /** A one-line usage error (exit 2). */
  | { kind: 'error'; message: string }

/** `token create` → `token`; one-word commands have no group. */
export const groupOf = (name: string): string | undefined => (name.includes(' ') ? name.split(' ')[0] : undefined)

const isFlag = (arg: string | undefined): boolean => arg !== undefined && arg.startsWith('-')

/**
 * Finds the command that `argv` names (its first one or two words) and parses
 * the rest against that command's own options, so that an unknown option, a
 * flag given a value it does not take, or a stray argument is one line naming
 * it (instead of Node's parseArgs text), with a "did you mean" where one is near.
 */
export function resolve(argv: readonly string[], commands: Record<string, ListedCommand>): Resolution {
  const [first, second] = argv
  if (first === undefined || first === '--help' || first === '-h' || (first === 'help' && argv.length === 1)) return { kind: 'overview' }
  if (first === 'help') return resolve([...argv.slice(1), '--help'], commands)
  if (isFlag(first)) return { kind: 'error', message: `kagi: ${first} before a command; give the command first (\`kagi --help\` lists them)` }
  const groups = [...new Set(Object.keys(commands).map(groupOf).filter((g) => g !== undefined))]
  const two = second !== undefined && !isFlag(second) ? `${first} ${second}` : undefined
  const name = two !== undefined && commands[two] ? two : commands[first] ? first : undefined
  if (name === undefined) {
    if (groups.includes(first)) {
      if (two === undefined) return { kind: 'group', group: first }
      const siblings = Object.keys(commands).filter((n) => groupOf(n) === first)
      return { kind: 'error', message: `kagi: unknown command \`${two}\`${didYouMean(two, siblings)} (\`kagi ${first}\` lists its commands)` }
    }
    const typed = two ?? first
    return { kind: 'error', message: `kagi: unknown command \`${typed}\`${didYouMean(typed, [...Object.keys(commands), ...groups])} (\`kagi --help\` lists the commands)` }
  }
  const command = commands[name]!
  const hint = ` (\`kagi ${name} --help\` lists its options)`
  const options = Object.fromEntries([
    ...Object.entries(command.options).map(([flag, spec]) => [flag, { type: spec.value === undefined ? ('boolean' as const) : ('string' as const) }]),
    ['help', { type: 'boolean' as const, short: 'h' }],
  ])
  let parsed
  try {
    parsed = parseArgs({ args: argv.slice(name.split(' ').length) as string[], options, strict: true, allowPositionals: true })
  } catch (error) {
    return { kind: 'error', message: `kagi ${name}: ${optionError(error as NodeJS.ErrnoException, Object.keys(command.options))}${hint}` }
  }
  const flags = parsed.values as Flags
  if (flags.help) return { kind: 'help', name, command }
  const allowed = command.argument ? 1 : 0
  const choices = command.argument?.choices
  const stray = parsed.positionals.length > allowed ? parsed.positionals[allowed] : choices && parsed.positionals.find((p) => !choices.includes(p))
  if (stray !== undefined) return { kind: 'error', message: `kagi ${name}: unexpected argument "${stray}"${hint}` }
  return { kind: 'run', name, command, args: parsed.positionals, flags }
}

/** parseArgs' error as one sentence naming the flag. */
function optionError(error: NodeJS.ErrnoException, known: string[]): string {
  const flag = /'(-[^' ]+)/.exec(error.message)?.[1]
  if (!flag) return error.message.split('\n')[0]!
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${flag}${didYouMean(flag, known.map((k) => `--${k}`))}`
  if (/does not take an argument/.test(error.message)) return `${flag} takes no value`
  return `${flag} needs a value`
}
