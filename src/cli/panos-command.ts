import { ConfigError } from '../config.js'
import { loadPanosConfig } from '../panos/config.js'
import { PanosError } from '../panos/errors.js'
import { pushToPanos } from '../panos/push.js'
import { panosPushSource, scepTokenProblem, unreachableByFirewall } from '../use-cases/panos-push.js'
import { withRuntime, type Command } from './command.js'
import { info, out, UsageError, warn } from './output.js'

/** `kagi panos push`: same shape as the entries of `commands` in commands.ts. */
export const panosCommands: Record<string, Command> = {
  'panos push': {
    summary: 'push kagi\'s CA and certificate profile to PAN-OS GlobalProtect and commit (--dry-run: show the difference only; --scep: also a SCEP profile the portal delivers certificates from)',
    usage: 'kagi panos push [--dry-run] [--scep [--rotate-scep-token]]   (KAGI_PANOS_URL, KAGI_PANOS_API_KEY or KAGI_PANOS_USER + KAGI_PANOS_PASSWORD; with --scep also KAGI_PANOS_PORTAL, KAGI_PANOS_PORTAL_CONFIG, KAGI_PANOS_SCEP_TOKEN; see README)',
    options: {
      'dry-run': { help: 'print the difference from what kagi wants and change nothing' },
      scep: { help: 'also manage a SCEP profile enrolling from kagi, delivered by the portal agent configuration KAGI_PANOS_PORTAL_CONFIG (needs KAGI_PANOS_SCEP_TOKEN)' },
      'rotate-scep-token': { help: 'with --scep: write the SCEP challenge password (KAGI_PANOS_SCEP_TOKEN) again although nothing else changed, after replacing the token' },
    },
    example: 'KAGI_PANOS_URL=https://fw.example.com KAGI_PANOS_API_KEY=… kagi panos push --dry-run',
    run: async (config, _args, flags) => {
      const scep = flags.scep === true
      if (flags['rotate-scep-token'] && !scep) throw new UsageError('--rotate-scep-token needs --scep')
      const { config: panos, warnings } = loadPanosConfig(process.env, { scep })
      for (const w of warnings) warn(w)
      // The database is needed only for the public CA certificates (and to check the SCEP token); it is closed (and an embedded one unlocked) before the firewall is contacted.
      const { source, tokenProblem } = await withRuntime(config, 'kagi panos push', async (runtime) => ({
        source: await panosPushSource(runtime.database.db, runtime.config.publicUrl),
        tokenProblem: panos.scep && (await scepTokenProblem(runtime.database.db, panos.scep.token)),
      }))
      if (!source) throw new UsageError('no CA yet: run `kagi ca init` (or start `kagi serve`) first')
      if (tokenProblem) throw new ConfigError(tokenProblem)
      const ocspUrl = source.ocspUrl
      if (unreachableByFirewall(ocspUrl)) warn(`the firewall will be told to ask ${ocspUrl} for OCSP, which it cannot reach: set KAGI_PUBLIC_URL to the name the firewall reaches kagi by`)
      try {
        const dryRun = flags['dry-run'] === true
        const report = await pushToPanos(source, panos, { dryRun, rotateScepToken: flags['rotate-scep-token'] === true, print: { out, info } })
        if (!dryRun) {
          const details = { firewall: new URL(panos.url).origin, scep, applied: report.applied.length, commitJob: report.commit?.jobId ?? null }
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
