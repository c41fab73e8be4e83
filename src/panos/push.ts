import { PanosClient } from './client.js'
import type { PanosConfig } from './config.js'
import { certificateXpath, desiredState, profileXpath, scepXpath, SHARED_XPATH, type DesiredState, type PushSource } from './desired-state.js'
import { diff, formatChanges, writtenXpath, type Change, type ObservedState } from './diff.js'
import { PanosError } from './errors.js'
import { agentConfigs } from './scep-diff.js'
import { isElement, type XmlElement } from './xml.js'

/** Where the push reports: `out` for the difference and the result, `info` for progress. */
export interface Printer {
  out(line: string): void
  info(line: string): void
}

/** What a push found and did. */
export interface PushReport {
  /** Differences between the candidate configuration and what kagi wants (written unless a dry run). */
  changes: Change[]
  /** Differences between the running configuration and what kagi wants (a commit is needed when any). */
  uncommitted: Change[]
  /** Changes written to the candidate configuration. */
  applied: Change[]
  /** The commit job, when kagi committed. */
  commit?: { jobId: string; details: string[]; warnings: string[] }
}

async function observe(client: PanosClient, desired: DesiredState, source: 'candidate' | 'running'): Promise<ObservedState> {
  const read = (xpath: string) => (source === 'candidate' ? client.get(xpath) : client.show(xpath))
  const certificates = new Map<string, XmlElement | undefined>()
  for (const cert of desired.certificates) certificates.set(cert.name, await read(certificateXpath(cert.name)))
  const profile = await read(profileXpath(desired.profile))
  const attachments = new Map<string, XmlElement | undefined>()
  for (const a of desired.attachments) attachments.set(a.kind, await read(a.entryXpath))
  const scep = desired.scep && (await read(scepXpath(desired.scep)))
  return { certificates, profile, attachments, scep }
}

/** The `admin` attribute PAN-OS stamps on a modified candidate node (the node's own first, reference §1.3). */
function adminOf(node: XmlElement | undefined): string | undefined {
  if (!node) return undefined
  if (node.attributes.admin) return node.attributes.admin
  for (const child of node.children) if (isElement(child)) {
    const found = adminOf(child)
    if (found) return found
  }
  return undefined
}

/** What is in the candidate configuration after a failure, and how to discard it (PAN-OS 8.0+ admin-scoped revert). */
function candidateAdvice(applied: readonly Change[], admin: string | undefined): string {
  if (!applied.length) return 'Nothing was written to the firewall\'s configuration.'
  const who = admin ?? '<API administrator>'
  return [
    'These changes were written to the candidate configuration and are NOT committed (the running configuration is unchanged):',
    ...formatChanges(applied),
    `To discard them, revert the candidate configuration (web interface: Config > Revert Changes, changes by ${who}; CLI: revert config partial admin [ ${who} ]),`,
    'or remove the cause and run `kagi panos push` again: it writes what is missing and commits.',
  ].join('\n')
}

function withAdvice(error: unknown, applied: readonly Change[], admin: string | undefined, inFlight?: Change): unknown {
  if (!(error instanceof PanosError)) return error
  const uncertain = inFlight && (error.kind === 'timeout' || error.kind === 'unreachable') ? `\nThe firewall may or may not have applied: ${inFlight.summary}` : ''
  return new PanosError(error.kind, `${error.message}${uncertain}\n${candidateAdvice(applied, admin)}`, error.code, error.lines)
}

async function apply(client: PanosClient, change: Change): Promise<void> {
  const r = change.request
  if (r.action === 'import') await client.importCertificate(r.name, r.pem)
  else if (r.action === 'set') await client.set(r.xpath, r.element)
  else await client.edit(r.xpath, r.element)
}

/** The administrator whose changes to commit: the configured user, else the one PAN-OS stamped on what kagi wrote. */
async function commitAdmin(client: PanosClient, applied: readonly Change[]): Promise<string | undefined> {
  if (client.user) return client.user
  for (const change of applied.slice(0, 3)) {
    const admin = adminOf(await client.get(writtenXpath(change)))
    if (admin) return admin
  }
  return undefined
}

async function commit(client: PanosClient, admin: string | undefined, print: Printer): Promise<PushReport['commit']> {
  if (!admin) {
    throw new PanosError(
      'commit_failed',
      'cannot tell which administrator the API key belongs to (no admin attribute on the changed nodes), so kagi cannot commit only its own changes: set KAGI_PANOS_USER to that administrator\'s name',
    )
  }
  print.info(`committing the changes of administrator ${admin} (partial commit)...`)
  const { jobId, lines } = await client.commitPartial(admin)
  if (!jobId) {
    throw new PanosError(
      'commit_failed',
      `the firewall has nothing to commit for administrator ${admin} (${lines.join(' / ') || 'no job'}) although kagi just wrote to the candidate configuration; check that KAGI_PANOS_USER names the administrator of the API key`,
    )
  }
  const job = await client.waitForJob(jobId, (j) => print.info(`  commit job ${jobId}: ${j.status}${j.progress ? ` ${j.progress}%` : ''}`))
  if (job.result !== 'OK') {
    throw new PanosError('commit_failed', `the commit failed (job ${jobId}, ${job.result || 'no result'}): ${job.details.join(' / ') || '(no message)'}`, undefined, job.details)
  }
  return { jobId, details: job.details, warnings: job.warnings }
}

/** Write order: certificates, then the shared objects that name them (certificate and SCEP profile), then the vsys objects that name those. */
const stage = (c: Change): number => (c.request.action === 'import' ? 0 : c.request.xpath.startsWith(`${SHARED_XPATH}/`) ? 1 : 2)

/**
 * What to write: the candidate's differences, plus what the running
 * configuration still lacks although the candidate has it (left by a failed
 * commit, or by another administrator). Writing those again is harmless and
 * makes them kagi's own changes, so the partial commit of kagi's
 * administrator includes them. Certificates first, then the profile and SCEP
 * profile, then the portal and gateway.
 */
function plan(changes: Change[], uncommitted: Change[]): Change[] {
  const key = (c: Change) => JSON.stringify(c.request)
  const seen = new Set(changes.map(key))
  const all = [...changes, ...uncommitted.filter((c) => !seen.has(key(c)))]
  return all.map((c, i) => [c, i] as const).sort(([a, i], [b, j]) => stage(a) - stage(b) || i - j).map(([c]) => c)
}

/** Refuses an agent configuration the portal does not have, naming those it has (kagi does not create one: it would have no selection criteria). */
function checkAgentConfig(delivery: { portal: string; config: string }, portal: XmlElement | undefined): void {
  const names = agentConfigs(portal).map((e) => e.attributes.name)
  if (names.includes(delivery.config)) return
  const known = names.length ? `it has ${names.map((n) => `"${n}"`).join(', ')}` : 'it has none'
  throw new PanosError('not_found', `GlobalProtect portal "${delivery.portal}" has no agent configuration "${delivery.config}" (KAGI_PANOS_PORTAL_CONFIG; ${known}). Nothing was written.`)
}

/**
 * Makes the firewall trust kagi's CA and check client certificates with it
 * (with `config.scep`, also enroll them from kagi's SCEP server and deliver
 * them through the portal's agent configuration): reads the candidate and running configuration, prints the difference from
 * what kagi wants, and (unless `dryRun`) writes only what differs, commits the
 * API administrator's changes and waits for the job. Nothing differs → no
 * write and no commit. Every failure is a PanosError whose message says what
 * is left in the candidate configuration and how to revert it.
 */
export async function pushToPanos(source: PushSource, config: PanosConfig, options: { dryRun?: boolean; rotateScepToken?: boolean; print: Printer }): Promise<PushReport> {
  const { print } = options
  const desired = desiredState(source, config, { rotateScepToken: options.rotateScepToken })
  const scep = desired.scep ? `, scep ${desired.scep.name} via agent config ${desired.scep.delivery.config}` : ''
  const target = `${new URL(config.url).origin} (profile ${desired.profile.name}${desired.attachments.map((a) => `, ${a.kind} ${a.name}`).join('')}${scep}, ${config.vsys})`
  print.info(`reading the configuration of ${target}...`)
  const client = await PanosClient.connect(config)
  const candidate = await observe(client, desired, 'candidate')
  for (const a of desired.attachments) {
    if (!candidate.attachments.get(a.kind)) {
      const variable = a.kind === 'portal' ? 'KAGI_PANOS_PORTAL' : 'KAGI_PANOS_GATEWAY'
      throw new PanosError('not_found', `GlobalProtect ${a.kind} "${a.name}" does not exist in ${config.vsys} (${variable}); create it first, or leave ${variable} empty. Nothing was written.`)
    }
  }
  if (desired.scep) checkAgentConfig(desired.scep.delivery, candidate.attachments.get('portal'))
  const changes = diff(desired, candidate)
  const uncommitted = diff(desired, await observe(client, desired, 'running'))
  const writes = plan(changes, uncommitted)
  const report: PushReport = { changes, uncommitted, applied: [] }
  print.out('differences between the candidate configuration and what kagi wants:')
  for (const line of formatChanges(changes)) print.out(line)
  const notRunning = writes.filter((w) => !changes.includes(w))
  if (notRunning.length) {
    print.out('not in the running configuration yet (uncommitted; kagi writes them again under its own administrator and commits):')
    for (const line of formatChanges(notRunning)) print.out(line)
  }
  if (!writes.length) {
    print.out('nothing to do: the firewall already trusts kagi\'s CA and uses its profile; no commit')
    return report
  }
  if (options.dryRun) {
    print.out(`dry run: nothing was changed; a push would write ${writes.length} change(s) and commit them`)
    return report
  }
  for (const change of writes) {
    try {
      await apply(client, change)
    } catch (error) {
      const lost = error instanceof PanosError && (error.kind === 'timeout' || error.kind === 'unreachable')
      const admin = lost ? client.user : await commitAdmin(client, report.applied).catch(() => client.user)
      throw withAdvice(error, report.applied, admin, change)
    }
    report.applied.push(change)
    print.info(`  written: ${change.summary}`)
  }
  let admin = client.user
  try {
    admin = await commitAdmin(client, report.applied)
    report.commit = await commit(client, admin, print)
  } catch (error) {
    throw withAdvice(error, report.applied, admin)
  }
  print.out(`committed (job ${report.commit!.jobId}): ${report.commit!.details.join(' / ') || 'OK'}`)
  for (const w of report.commit!.warnings) print.out(`  warning: ${w}`)
  return report
}
