import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { commands } from '../src/cli/commands.js'

// Help, did-you-mean and usage errors: all decided before any configuration or database is read.

const bin = join(import.meta.dirname, '..', 'bin', 'kagi.js')
const env = { PATH: process.env.PATH!, HOME: '/tmp', KAGI_DATA_DIR: '/nonexistent/kagi-help' }
const kagi = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}
const oneLine = (text: string): boolean => text.trimEnd().split('\n').length === 1

t.test('`--help` of every command: its options, each with a sentence, and an example', async (t) => {
  for (const [name, command] of Object.entries(commands)) {
    const help = kagi(...name.split(' '), '--help')
    t.equal(help.status, 0, `${name} --help exits 0`)
    t.match(help.stdout, /^usage: kagi /, `${name}: usage`)
    t.match(help.stdout, /\noptions:\n[\s\S]*--help +show this help/, `${name}: options`)
    for (const flag of Object.keys(command.options)) t.match(help.stdout, new RegExp(`\\n  --${flag}\\b.* \\w+`), `${name}: --${flag} is explained`)
    t.match(help.stdout, new RegExp(`\\nexample:\\n  .*kagi ${name}\\b`), `${name}: an example`)
  }
})

t.test('a group alone lists its commands', async (t) => {
  for (const group of ['ca', 'token', 'session', 'audit', 'panos']) {
    const r = kagi(group)
    t.equal(r.status, 0, group)
    for (const name of Object.keys(commands).filter((n) => n.startsWith(`${group} `))) t.match(r.stdout, new RegExp(`\\n  ${name} +\\w`), `${group} lists ${name}`)
  }
  t.match(kagi('help', 'token', 'create').stdout, /^usage: kagi token create/, '`kagi help X` is `kagi X --help`')
})

t.test('an unknown command suggests the nearest one', async (t) => {
  for (const [typed, suggestion] of [
    [['ca', 'shwo'], 'ca show'],
    [['show'], 'ca show'],
    [['tokn', 'create'], 'token create'],
    [['revok', 'ab'], 'revoke'],
    [['tokn'], 'token'],
  ] as const) {
    const r = kagi(...typed)
    t.equal(r.status, 2, typed.join(' '))
    t.ok(oneLine(r.stderr), `one line: ${r.stderr}`)
    t.match(r.stderr, `did you mean \`${suggestion}\`?`)
  }
  const far = kagi('frobnicate')
  t.equal(far.status, 2)
  t.match(far.stderr, /unknown command `frobnicate` \(`kagi --help` lists the commands\)/)
  t.notMatch(far.stderr, /did you mean/, 'nothing near: no guess')
})

t.test('an unknown option, a misused flag or a stray argument is one line naming it', async (t) => {
  const cases: [string[], RegExp][] = [
    [['crl', 'nope'], /^kagi crl: unexpected argument "nope" \(`kagi crl --help` lists its options\)/],
    [['crl', '--nope'], /^kagi crl: unknown option --nope /],
    [['issue', '--hostnme', 'h'], /^kagi issue: unknown option --hostnme; did you mean `--hostname`\?/],
    [['token', 'create', '--role'], /^kagi token create: --role needs a value/],
    [['ca', 'show', '--pem=yes'], /^kagi ca show: --pem takes no value/],
    [['token', 'list', 'extra'], /^kagi token list: unexpected argument "extra"/],
    [['revoke', 'ab', 'cd'], /^kagi revoke: unexpected argument "cd"/],
    [['--force'], /^kagi: --force before a command/],
  ]
  for (const [args, expected] of cases) {
    const r = kagi(...args)
    t.equal(r.status, 2, args.join(' '))
    t.ok(oneLine(r.stderr), `one line: ${r.stderr}`)
    t.match(r.stderr, expected)
    t.notMatch(r.stderr, /To specify a positional argument|ERR_PARSE_ARGS/, 'not parseArgs\' text')
  }
})
