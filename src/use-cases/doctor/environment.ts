import type { Config } from '../../config.js'
import { ConfigError } from '../../config.js'
import { secureDataDir } from '../../startup/data-dir.js'
import { resolvePassphrase, type Passphrase } from '../../startup/passphrase.js'
import { fail, ok, warn, type CheckResult } from './types.js'

/**
 * The data directory, through the very check every kagi process makes at
 * start (startup/data-dir.ts): a directory other users could reach is made
 * 0700 again, which is a warning (it was exposed until now, and whatever
 * loosened it may do so again); one kagi cannot use (not a directory,
 * another user's) fails.
 */
export function checkDataDir(config: Readonly<Config>): CheckResult {
  const name = 'data directory'
  try {
    const warnings = secureDataDir(config.dataDir)
    if (warnings.length === 0) return ok(name, `${config.dataDir} is private to kagi's user (0700, files 0600), or does not exist yet`)
    return warn(name, warnings.map((w) => w.message).join('; '), `find out what loosened the modes (a deployment script, a backup restore, a chmod by hand); kagi tightens them at every start`)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return fail(name, error.message, 'point KAGI_DATA_DIR at a directory owned by the user kagi runs as')
  }
}

/** Where the database is, for a line of output: a PostgreSQL URL without its password. */
export function databaseWhere(config: Readonly<Config>): string {
  if (!config.databaseUrl) return `the embedded database in ${config.dataDir}/db`
  try {
    const url = new URL(config.databaseUrl)
    return `PostgreSQL at ${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}`
  } catch {
    return 'PostgreSQL (DATABASE_URL)'
  }
}

/**
 * The configuration: the environment was parsed before the command ran (an
 * invalid one stops the CLI with the variable named, before any check), so
 * this is about what parsing cannot see: the CA passphrase (its file is
 * readable, a generated one outside production, a short one). A forwarded
 * doctor reports the passphrase of the running server.
 */
export function checkConfiguration(config: Readonly<Config>, serverPassphrase?: Passphrase): { result: CheckResult; passphrase?: Passphrase } {
  const name = 'configuration'
  let passphrase: Passphrase
  try {
    passphrase = serverPassphrase ?? resolvePassphrase(config)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return { result: fail(name, error.message, 'set KAGI_CA_PASSPHRASE or KAGI_CA_PASSPHRASE_FILE (see README, Configuration)') }
  }
  const mode = config.production ? 'production' : 'development (NODE_ENV is not production)'
  const where = `${mode}; ${databaseWhere(config)}; CA passphrase from ${passphrase.source === 'data-dir' || passphrase.source === 'generated' ? 'the data directory (generated)' : passphrase.source === 'file' ? 'KAGI_CA_PASSPHRASE_FILE' : 'KAGI_CA_PASSPHRASE'}`
  if (passphrase.warning) return { result: warn(name, `${where}: ${passphrase.warning}`, 'set a long random KAGI_CA_PASSPHRASE (or KAGI_CA_PASSPHRASE_FILE) kept apart from the database'), passphrase }
  return { result: ok(name, `the environment is valid: ${where}`), passphrase }
}
