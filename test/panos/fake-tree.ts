/**
 * The configuration tree of the PAN-OS test double: xpath selection and the
 * set / edit / delete semantics of reference §1.4, the `admin/dirtyId/time`
 * stamps on modified candidate nodes (§1.3), and the validations PAN-OS
 * applies when a write arrives (§1.3 names ≤ 63, §1.7 profile schema, the
 * SCEP profile schema) and what it stores instead (passwords encrypted).
 *
 * UNCONFIRMED: the SCEP profile (`/config/shared/scep/entry`, its element
 * names and the portal's `client-certificate/scep`) follows the same guess as
 * src/panos/desired-state.ts (reference §1.8 and §5, Strata Cloud Manager's
 * SCEP model in kebab-case), so these tests prove kagi consistent with that
 * guess, not with a firewall.
 */
import { createHash } from 'node:crypto'
import { childElements, cloneElement, element, findPath, textOf, type XmlElement } from '../../src/panos/xml.js'

/** A refused request: the double answers `<response status="error" code=…>` with these lines. */
export class FakeError extends Error {
  constructor(
    readonly code: number | undefined,
    readonly lines: string[],
  ) {
    super(lines.join(' / '))
  }
}

/** One xpath step: `name` or `name[@name='value']`. */
export interface Step {
  name: string
  entry?: string
}

/** Parses the absolute xpaths PAN-OS clients send (`/config/…/entry[@name='x']/…`); anything else is code 6. */
export function parseXpath(xpath: string): Step[] {
  const steps: Step[] = []
  const re = /\/([A-Za-z0-9_.:-]+)(?:\[@name=(?:'([^']*)'|"([^"]*)")\])?/y
  let pos = 0
  while (pos < xpath.length) {
    re.lastIndex = pos
    const m = re.exec(xpath)
    if (!m) throw new FakeError(6, ['Bad Xpath'])
    steps.push({ name: m[1]!, entry: m[2] ?? m[3] })
    pos = re.lastIndex
  }
  if (steps[0]?.name !== 'config' || steps[0].entry !== undefined) throw new FakeError(6, ['Bad Xpath'])
  return steps
}

const matches = (node: XmlElement, step: Step) => node.name === step.name && (step.entry === undefined || node.attributes.name === step.entry)

/** Every node the steps reach (a step without a predicate may match several entries). */
export function select(root: XmlElement, steps: readonly Step[]): XmlElement[] {
  let current = matches(root, steps[0]!) ? [root] : []
  for (const step of steps.slice(1)) current = current.flatMap((n) => childElements(n).filter((c) => matches(c, step)))
  return current
}

/** The chain of nodes along the steps, created where missing (what `set` does). */
export function ensurePath(root: XmlElement, steps: readonly Step[]): XmlElement[] {
  const chain = [root]
  for (const step of steps.slice(1)) {
    const parent = chain[chain.length - 1]!
    let next = childElements(parent).find((c) => matches(c, step))
    if (!next) {
      next = element(step.name, step.entry === undefined ? {} : { name: step.entry })
      parent.children.push(next)
    }
    chain.push(next)
  }
  return chain
}

const isLeaf = (node: XmlElement) => childElements(node).length === 0

/** `set`: merges `incoming` into `target` (entries by name, leaves replaced, members added). Returns the touched children. */
export function merge(target: XmlElement, incoming: readonly XmlElement[]): XmlElement[] {
  const touched: XmlElement[] = []
  for (const node of incoming) {
    const existing = childElements(target).find((c) =>
      node.name === 'member' ? c.name === 'member' && textOf(c) === textOf(node) : c.name === node.name && c.attributes.name === node.attributes.name,
    )
    if (!existing) {
      const copy = cloneElement(node)
      target.children.push(copy)
      touched.push(copy)
    } else if (isLeaf(node) && node.name !== 'member') {
      existing.children = [...node.children]
      touched.push(existing)
    } else {
      merge(existing, childElements(node))
      touched.push(existing)
    }
  }
  return touched
}

/** `edit`: replaces the node at the steps with `incoming`, whose tag (and name) must match the last step. */
export function replace(root: XmlElement, steps: readonly Step[], incoming: XmlElement): XmlElement {
  const last = steps[steps.length - 1]!
  if (!matches(incoming, { name: last.name, entry: last.entry })) {
    throw new FakeError(12, [`edit breaks config object structure: <${incoming.name}> does not match ${last.name}`])
  }
  const chain = ensurePath(root, steps.slice(0, -1))
  const parent = chain[chain.length - 1]!
  const copy = cloneElement(incoming)
  const index = parent.children.findIndex((c) => typeof c !== 'string' && matches(c, last))
  if (index >= 0) parent.children[index] = copy
  else parent.children.push(copy)
  return copy
}

/** `delete`: removes every node the steps reach; returns how many. */
export function remove(root: XmlElement, steps: readonly Step[]): number {
  let removed = 0
  for (const parent of select(root, steps.slice(0, -1))) {
    const before = parent.children.length
    parent.children = parent.children.filter((c) => typeof c === 'string' || !matches(c, steps[steps.length - 1]!))
    removed += before - parent.children.length
  }
  return removed
}

/** Marks nodes as modified by `admin`, the way `get` shows uncommitted candidate changes. */
export function stamp(nodes: readonly XmlElement[], admin: string, dirtyId: number, time: string): void {
  for (const node of nodes) Object.assign(node.attributes, { admin, dirtyId: String(dirtyId), time })
}

const YES_NO = ['use-crl', 'use-ocsp', 'block-unknown-cert', 'block-timeout-cert', 'block-unauthenticated-cert', 'block-expired-cert', 'ocsp-exclude-nonce']
const PROFILE_CHILDREN = new Set(['CA', 'username-field', 'domain', 'crl-receive-timeout', 'ocsp-receive-timeout', 'cert-status-timeout', ...YES_NO])
const USERNAME_CHOICES: Record<string, string[]> = { subject: ['common-name'], 'subject-alt': ['email', 'principal-name'] }

function checkProfile(entry: XmlElement): void {
  const where = `certificate-profile -> ${entry.attributes.name}`
  for (const child of childElements(entry)) {
    if (!PROFILE_CHILDREN.has(child.name)) throw new FakeError(12, [` ${where} -> ${child.name} unexpected here`])
    if (YES_NO.includes(child.name) && !['yes', 'no'].includes(textOf(child))) throw new FakeError(12, [` ${where} -> ${child.name} '${textOf(child)}' is not a valid value`])
  }
  const field = findPath(entry, 'username-field')
  const choices = field ? childElements(field) : []
  const bad = choices.length > 1 || choices.some((c) => !USERNAME_CHOICES[c.name]?.includes(textOf(c)))
  if (bad) throw new FakeError(12, [` ${where} -> username-field is invalid`])
}

const SCEP_CHILDREN = new Set(['scep-challenge', 'scep-url', 'ca-identity-name', 'subject', 'digest', 'algorithm', 'scep-ca-cert', 'scep-client-cert', 'fingerprint', 'use-as-digital-signature', 'use-for-key-encipherment', 'certificate-attributes'])
const SCEP_ENUMS: Record<string, string[]> = {
  digest: ['sha1', 'sha256', 'sha384', 'sha512'],
  'use-as-digital-signature': ['yes', 'no'],
  'use-for-key-encipherment': ['yes', 'no'],
  'algorithm/rsa/rsa-nbits': ['1024', '2048', '3072'],
}

function checkScep(entry: XmlElement): void {
  const invalid = (what: string) => new FakeError(12, [` scep -> ${entry.attributes.name} -> ${what} is invalid`])
  for (const child of childElements(entry)) if (!SCEP_CHILDREN.has(child.name)) throw new FakeError(12, [` scep -> ${entry.attributes.name} -> ${child.name} unexpected here`])
  for (const [path, values] of Object.entries(SCEP_ENUMS)) {
    const node = findPath(entry, path)
    if (node && !values.includes(textOf(node))) throw invalid(path)
  }
  // A choice holds exactly one of its options.
  const choice = (path: string, allowed: string[]) => {
    const node = findPath(entry, path)
    const choices = node ? childElements(node) : []
    if (node && (choices.length !== 1 || !allowed.includes(choices[0]!.name))) throw invalid(path)
  }
  choice('scep-challenge', ['fixed', 'dynamic'])
  choice('algorithm', ['rsa'])
}

/** What PAN-OS stores for a password: an encrypted form, never the text sent (`-AQ==…`; here a hash, so tests can tell one from another). */
export function encryptPasswords(node: XmlElement): void {
  for (const child of childElements(node)) {
    if (child.name === 'password' && textOf(child)) child.children = [`-AQ==${createHash('sha256').update(textOf(child)).digest('base64')}`]
    else encryptPasswords(child)
  }
}

/** Validations PAN-OS runs on a write: entry names ≤ 63 characters, certificate-profile and SCEP profile schema. */
export function validateWrite(root: XmlElement): void {
  const walk = (node: XmlElement, parent: string) => {
    const name = node.attributes.name
    if (node.name === 'entry' && name !== undefined && name.length > 63) {
      throw new FakeError(12, [` ${parent} -> ${name} can be at most 63 characters, but current length: ${name.length}`])
    }
    if (node.name === 'entry' && parent === 'certificate-profile') checkProfile(node)
    if (node.name === 'entry' && parent === 'scep') checkScep(node)
    for (const child of childElements(node)) walk(child, node.name)
  }
  walk(root, '')
}

/** Dangling references PAN-OS reports when it validates a configuration (commit, or write when configured). */
export function referenceErrors(root: XmlElement): string[] {
  const errors: string[] = []
  const vsysList = select(root, parseXpath("/config/devices/entry/vsys/entry"))
  const scopes = [findPath(root, 'shared'), ...vsysList].filter((s): s is XmlElement => !!s)
  const certs = scopes.flatMap((s) => childElements(findPath(s, 'certificate') ?? element('x'), 'entry'))
  const profiles = new Set(scopes.flatMap((s) => childElements(findPath(s, 'certificate-profile') ?? element('x'), 'entry')).map((e) => e.attributes.name))
  for (const scope of scopes) {
    for (const profile of childElements(findPath(scope, 'certificate-profile') ?? element('x'), 'entry')) {
      for (const ca of childElements(findPath(profile, 'CA') ?? element('x'), 'entry')) {
        const cert = certs.find((c) => c.attributes.name === ca.attributes.name)
        if (!cert || textOf(findPath(cert, 'ca')) !== 'yes') errors.push(`certificate-profile -> ${profile.attributes.name} -> CA -> ${ca.attributes.name} is not a valid reference`)
      }
    }
  }
  const sceps = scopes.flatMap((s) => childElements(findPath(s, 'scep') ?? element('x'), 'entry'))
  for (const scep of sceps) {
    const ca = textOf(findPath(scep, 'scep-ca-cert'))
    if (ca && !certs.some((c) => c.attributes.name === ca)) errors.push(`scep -> ${scep.attributes.name} -> scep-ca-cert '${ca}' is not a valid reference`)
  }
  for (const vsys of vsysList) {
    const gp = findPath(vsys, 'global-protect')
    for (const portal of childElements(findPath(gp, 'global-protect-portal') ?? element('x'), 'entry')) {
      for (const agent of childElements(findPath(portal, 'client-config/configs') ?? element('x'), 'entry')) {
        const ref = findPath(agent, 'client-certificate/scep')
        if (ref && !sceps.some((e) => e.attributes.name === textOf(ref))) errors.push(`global-protect-portal -> ${portal.attributes.name} -> client-config -> ${agent.attributes.name} -> scep '${textOf(ref)}' is not a valid reference`)
      }
    }
    const refs = [
      ...childElements(findPath(gp, 'global-protect-portal') ?? element('x'), 'entry').map((e) => ['global-protect-portal', e, findPath(e, 'portal-config/certificate-profile')] as const),
      ...childElements(findPath(gp, 'global-protect-gateway') ?? element('x'), 'entry').map((e) => ['global-protect-gateway', e, findPath(e, 'certificate-profile')] as const),
    ]
    for (const [kind, entry, ref] of refs) {
      if (ref && !profiles.has(textOf(ref))) errors.push(`${kind} -> ${entry.attributes.name} -> certificate-profile '${textOf(ref)}' is not a valid reference`)
    }
  }
  return errors
}
