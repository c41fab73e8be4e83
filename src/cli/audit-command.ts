import { join } from 'node:path'
import { recordVerification } from '../db/audit-chain.js'
import { runtimeServices } from '../startup/runtime.js'
import { createAuditHeadSigner, verifyAudit } from '../use-cases/audit-heads.js'
import { withRuntime, type ListedCommand } from './command.js'
import { info, out, UsageError } from './output.js'

/** Control characters would act on the terminal: shown as U+FFFD. */
const printable = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '\uFFFD')

const count = (n: number, what: string): string => `${n.toLocaleString('en-US')} ${what}${n === 1 ? '' : 's'}`

/** `kagi audit verify | sign | list`: same shape as the entries of `commands` in commands.ts. */
export const auditCommands: Record<string, ListedCommand> = {
  'audit verify': {
    summary: 'recompute the audit log\'s hash chain and check its signed heads (exit 1 names the first event altered, removed or inserted)',
    usage: 'kagi audit verify',
    options: {},
    example: 'kagi audit verify',
    run: (config) => {
      return withRuntime(config, 'kagi audit verify', async (runtime) => {
        // Loading the CA proves the passphrase: signed heads are believed only from CAs whose keys it decrypts.
        const services = await runtimeServices(runtime, { create: false })
        if (!services) throw new UsageError('no CA yet: there is nothing to check signed heads against')
        const result = await verifyAudit(services.db, services.ca, runtime.passphrase.value, {
          exportDir: join(config.dataDir, 'audit'),
          onProgress: (n) => info(`${count(n, 'event')} verified…`),
        })
        await recordVerification(services.db, 'cli', { ok: result.ok, events: result.events, signedSeq: result.lastSigned?.seq ?? null, problem: result.problems[0] ?? null })
        if (!result.ok) {
          for (const problem of result.problems) info(`kagi audit verify: ${problem}`)
          return 1
        }
        const signed = result.lastSigned
          ? `last signed head seq ${result.lastSigned.seq} at ${result.lastSigned.signedAt.toISOString()}${result.unsigned ? ` (${count(result.unsigned, 'later event')} not signed yet)` : ''}`
          : 'no signed head yet'
        out(`${count(result.events, 'event')}, chain intact, ${signed}`)
        return 0
      })
    },
  },
  'audit sign': {
    summary: 'sign the audit log\'s current head now (a running kagi does it every 10 minutes)',
    usage: 'kagi audit sign',
    options: {},
    example: 'kagi audit sign',
    run: (config) => {
      return withRuntime(config, 'kagi audit sign', async (runtime) => {
        const services = await runtimeServices(runtime, { create: false })
        if (!services) throw new UsageError('no CA yet: nothing to sign with')
        const head = await createAuditHeadSigner(services, runtime.passphrase.value).signNow()
        if (!head) {
          out('the audit log is empty: nothing to sign')
          return 0
        }
        out(`head seq ${head.seq} (${head.hash.toString('hex')}) signed at ${head.signedAt.toISOString()} by certificate ${head.signerSerial}`)
        out(`exported to ${join(config.dataDir, 'audit', `${head.seq}.json`)}`)
        return 0
      })
    },
  },
  'audit list': {
    summary: 'print recent audit events, oldest first (id, time, actor, action, serial)',
    usage: 'kagi audit list [--limit N] [--action ACTION]',
    options: {
      limit: { value: 'N', help: 'how many of the latest events to print (default 50, at most 10,000)' },
      action: { value: 'ACTION', help: 'only events of this action, e.g. certificate.revoked or token.created' },
    },
    example: 'kagi audit list --action token.created --limit 10',
    run: (config, _args, flags) => {
      const limit = flags.limit === undefined ? 50 : Number(flags.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError('--limit must be a whole number from 1 to 10000')
      const action = flags.action
      if (action !== undefined && (typeof action !== 'string' || action === '' || action.length > 100)) throw new UsageError('--action needs an action name, e.g. certificate.revoked')
      return withRuntime(config, 'kagi audit list', async (runtime) => {
        let query = runtime.database.db.selectFrom('audit_event').select(['id', 'at', 'actor', 'action', 'serial']).orderBy('seq', 'desc').limit(limit)
        if (action) query = query.where('action', '=', action)
        const rows = (await query.execute()).reverse()
        for (const r of rows) out(`${r.id}  ${new Date(r.at).toISOString()}  ${printable(r.actor)}  ${printable(r.action)}  ${r.serial ? printable(r.serial) : '-'}`)
        if (rows.length === 0) info(action ? `no ${printable(action)} events` : 'no audit events yet')
        return 0
      })
    },
  },
}
