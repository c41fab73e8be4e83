import { loadPanosConfig } from '../panos/config.js'
import { PanosError } from '../panos/errors.js'
import { pushToPanos } from '../panos/push.js'
import { panosPushSource, unreachableByFirewall } from '../use-cases/panos-push.js'
import { withRuntime, type Command } from './command.js'
import { info, out, UsageError, warn } from './output.js'

/** `kagi panos push`: same shape as the entries of `commands` in commands.ts. */
export const panosCommands: Record<string, Command> = {
  'panos push': {
    summary: 'push kagi\'s CA and certificate profile to PAN-OS GlobalProtect and commit (--dry-run: show the difference only)',
    usage: 'kagi panos push [--dry-run]   (KAGI_PANOS_URL, KAGI_PANOS_API_KEY or KAGI_PANOS_USER + KAGI_PANOS_PASSWORD, … see README)',
    run: async (config, args, flags) => {
      if (args.length) throw new UsageError(`unexpected argument "${args[0]}"`)
      const { config: panos, warnings } = loadPanosConfig(process.env)
      for (const w of warnings) warn(w)
      // The database is needed only for the public CA certificates; it is closed (and an embedded one unlocked) before the firewall is contacted.
      const source = await withRuntime(config, 'kagi panos push', async (runtime) => panosPushSource(runtime.database.db, config.publicUrl))
      if (!source) throw new UsageError('no CA yet: run `kagi ca init` (or start `kagi serve`) first')
      const ocspUrl = source.ocspUrl
      if (unreachableByFirewall(ocspUrl)) warn(`the firewall will be told to ask ${ocspUrl} for OCSP, which it cannot reach: set KAGI_PUBLIC_URL to the name the firewall reaches kagi by`)
      try {
        const dryRun = flags['dry-run'] === true
        const report = await pushToPanos(source, panos, { dryRun, print: { out, info } })
        if (!dryRun) {
          const details = { firewall: new URL(panos.url).origin, applied: report.applied.length, commitJob: report.commit?.jobId ?? null }
          await withRuntime(config, 'kagi panos push', (runtime) => runtime.database.db.insertInto('audit_event').values({ actor: 'cli', action: 'panos.pushed', serial: null, details: JSON.stringify(details) }).execute())
        }
        return 0
      } catch (error) {
        if (!(error instanceof PanosError)) throw error
        info(`kagi panos push: ${error.message}`)
        return 1
      }
    },
  },
}
