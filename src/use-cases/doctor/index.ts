import type { Config } from '../../config.js'
import type { Runtime } from '../../startup/runtime.js'
import type { LoadedCa } from '../../startup/ca-loader.js'
import { checkCaValidity } from './ca-validity.js'
import { checkClock, checkDatabase } from './database.js'
import { checkConfiguration, checkDataDir } from './environment.js'
import { checkPanos } from './panos.js'
import { checkCrl, checkOcsp } from './public-url.js'
import { checkSaml } from './saml.js'
import { describe, fail, ok, skip, warn, type CheckResult } from './types.js'

export type { CheckResult, CheckStatus } from './types.js'

/** Where doctor runs and how it reports. */
export interface DoctorOptions {
  /** The runtime of the `kagi serve` this runs in (a forwarded command): its database, passphrase and CA are checked. */
  server?: Runtime
  /** Opens the database when not running in a server; the runtime is closed before {@link runDoctor} returns. */
  openRuntime: () => Promise<Runtime>
  /** The environment the PAN-OS variables are read from (the server's when forwarded). */
  env: NodeJS.ProcessEnv
  /** Called with each result as soon as it is known (progress). */
  onResult: (result: CheckResult) => void
}

/**
 * Runs every check in order, each printed as it completes, and returns them
 * all. A check that needs what an earlier one found broken (the CA needs
 * the database) is skipped, naming that check. Every network request is
 * bounded by NETWORK_TIMEOUT_MS; the database is closed at the end.
 */
export async function runDoctor(config: Readonly<Config>, options: DoctorOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = []
  const report = (result: CheckResult): CheckResult => {
    results.push(result)
    options.onResult(result)
    return result
  }
  const configuration = checkConfiguration(config, options.server?.passphrase)
  report(configuration.result)
  report(checkDataDir(config))
  const database = await checkDatabase(config, async () => options.server ?? options.openRuntime(), options.server !== undefined)
  report(database.result)
  const runtime = database.runtime
  try {
    await checksNeedingTheDatabase(runtime, report)
    const effective = runtime?.config ?? config
    report(await checkSaml(effective, new Date()).catch((error) => fail('SAML', describe(error), 'check KAGI_SAML_* (README, SAML)')))
    report(await checkPanos(options.env))
  } finally {
    if (runtime && !options.server) await runtime.database.close()
  }
  return results
}

const needs = (what: string) => (name: string) => skip(name, `not checked: it needs ${what}`)

async function checksNeedingTheDatabase(runtime: Runtime | undefined, report: (r: CheckResult) => CheckResult): Promise<void> {
  const later = ['clock', 'CA', 'public URL: CRL', 'public URL: OCSP']
  if (!runtime) return void later.map(needs('the database')).forEach(report)
  const db = runtime.database.db
  report(await checkClock(db, runtime.database.kind === 'pglite'))
  let ca: LoadedCa | undefined
  try {
    ca = runtime.services?.ca ?? (await (await import('../../startup/ca-loader.js')).loadCa(db, runtime.passphrase.value))
  } catch (error) {
    report(fail('CA', `the CA keys cannot be loaded: ${describe(error)}`, 'give kagi the passphrase the CA was created with (KAGI_CA_PASSPHRASE or KAGI_CA_PASSPHRASE_FILE)'))
    return void later.slice(2).map(needs('the CA')).forEach(report)
  }
  if (!ca) {
    report(warn('CA', 'no CA yet', 'start kagi serve (it creates the CA at first start) or run kagi ca init'))
    return void later.slice(2).map(needs('a CA')).forEach(report)
  }
  const now = new Date()
  report(ok('CA', `${ca.keyType} root and issuing CA; the passphrase decrypts the issuing key`))
  report(checkCaValidity('root', ca.root, now))
  report(checkCaValidity('issuing', ca.issuing, now))
  const publicUrl = runtime.config.publicUrl
  const notes = runtime.publicUrlNotes
  report(notes.length ? warn('public URL', `${publicUrl}: ${notes.join('; ')}`, 'see the note; `kagi ca show` prints the stored URL') : ok('public URL', `${publicUrl} (stored with the CA)`))
  report(await checkCrl(publicUrl, ca.issuing, now))
  report(await checkOcsp(publicUrl, ca.issuing, db, now))
}
