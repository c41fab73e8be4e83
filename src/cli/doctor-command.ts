import { openRuntime } from '../startup/runtime.js'
import { runDoctor, type CheckResult } from '../use-cases/doctor/index.js'
import type { ListedCommand } from './command.js'
import { currentInvocation } from './invocation.js'
import { info, out } from './output.js'

/**
 * One line of text: a multi-line message (a configuration error) is joined,
 * and control characters in text from outside (a firewall's host name, an
 * IdP's issuer), which would act on the terminal, are shown as U+FFFD.
 */
const printable = (s: string): string => s.replace(/\s*\n\s*/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '\uFFFD')

const NAME_WIDTH = 17

/** One check as a line (and, for warn, fail and skip, an indented line saying what to do). */
function line(result: CheckResult): string {
  const head = `${result.status.padEnd(5)} ${result.name.padEnd(NAME_WIDTH)} ${printable(result.detail)}`
  return result.fix && result.status !== 'ok' ? `${head}\n${''.padEnd(6 + NAME_WIDTH)} ${result.status === 'skip' ? 'to enable' : 'fix'}: ${printable(result.fix)}` : head
}

/**
 * `kagi doctor`. Forwarded to a running `kagi serve` on the embedded
 * database like every command: it then checks that server's view (its
 * configuration, open database, loaded CA and environment), which is the
 * one devices meet. With PostgreSQL, or with no server running, it opens
 * the database itself.
 */
export const doctorCommand: ListedCommand = {
  summary: 'check the configuration, database, CA, public URL (CRL and OCSP fetched through it), SAML, PAN-OS, clock and data directory (exit 1 when a check fails)',
  usage: 'kagi doctor [--json]',
  options: { json: { help: 'print the results as one JSON document on stdout (the progress lines go to stderr)' } },
  example: 'kagi doctor || echo "something needs fixing"',
  run: async (config, _args, flags) => {
    const json = flags.json === true
    const results = await runDoctor(config, {
      server: currentInvocation()?.runtime,
      openRuntime: () => openRuntime(config, 'kagi doctor'),
      env: process.env,
      onResult: (result) => (json ? info : out)(line(result)),
    })
    const count = (status: CheckResult['status']) => results.filter((r) => r.status === status).length
    const failed = count('fail') > 0
    const summary = `${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail, ${count('skip')} skipped`
    if (json) {
      info(summary)
      out(JSON.stringify({ ok: !failed, checks: results }, null, 2))
    } else out(summary)
    return failed ? 1 : 0
  },
}
