import type { ListedCommand } from './command.js'
import { out } from './output.js'
import { groupOf } from './parse.js'

/** What each group of commands is about, for `kagi <group>` alone. */
const groupSummaries: Record<string, string> = {
  ca: 'the certificate authority',
  token: 'API tokens',
  session: 'sign-in sessions of the web pages',
  audit: 'the audit log',
  panos: 'PAN-OS GlobalProtect firewalls',
  secret: 'random secrets for the configuration',
}

const list = (commands: [string, ListedCommand][]): void => {
  const width = Math.max(...commands.map(([name]) => name.length)) + 2
  for (const [name, c] of commands) out(`  ${name.padEnd(width)} ${c.summary}`)
}

/** `kagi`, `kagi help`, `kagi --help`: every command. */
export function printOverview(commands: Record<string, ListedCommand>): void {
  out('kagi: device-certificate authority and enrollment service for GlobalProtect')
  out('')
  out('usage: kagi <command> [options]   (configuration comes from the environment; see README)')
  out('')
  list(Object.entries(commands))
  out('')
  out('`kagi <command> --help` shows a command\'s options and an example.')
  out('While `kagi serve` runs on the embedded database, commands are run by that server (over its socket in KAGI_DATA_DIR).')
}

/** `kagi token` alone: the commands of that group. */
export function printGroup(commands: Record<string, ListedCommand>, group: string): void {
  out(`kagi ${group}: ${groupSummaries[group] ?? 'commands'}`)
  out('')
  list(Object.entries(commands).filter(([name]) => groupOf(name) === group))
  out('')
  out(`\`kagi ${group} <command> --help\` shows a command's options and an example.`)
}

/** `kagi <command> --help`: usage, each option with one sentence, one example. */
export function printCommand(command: ListedCommand): void {
  out(`usage: ${command.usage}`)
  out('')
  out(`${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.`)
  out('')
  const rows: [string, string][] = []
  if (command.argument) rows.push([command.argument.name, command.argument.help])
  for (const [flag, spec] of Object.entries(command.options)) rows.push([`--${flag}${spec.value ? ` ${spec.value}` : ''}`, spec.help])
  rows.push(['--help', 'show this help'])
  const width = Math.min(Math.max(...rows.map(([left]) => left.length)) + 2, 32)
  out('options:')
  for (const [left, help] of rows) out(left.length >= width ? `  ${left}\n  ${''.padEnd(width)} ${help}` : `  ${left.padEnd(width)} ${help}`)
  out('')
  out('example:')
  out(`  ${command.example}`)
}
