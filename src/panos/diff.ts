import {
  caEntryElement,
  certificateXpath,
  profileElement,
  profileXpath,
  SHARED_XPATH,
  usernameFieldElement,
  type DesiredState,
} from './desired-state.js'
import { deliveryChanges, scepChanges } from './scep-diff.js'
import { childElements, element, findPath, parseXml, serializeXml, textOf, type XmlElement } from './xml.js'

/**
 * What one configuration (candidate or running) holds of the objects kagi
 * manages; undefined means the object is not there.
 */
export interface ObservedState {
  /** Certificate entries by name. */
  certificates: Map<string, XmlElement | undefined>
  profile?: XmlElement
  /** Portal and gateway entries, keyed by `portal` / `gateway`. */
  attachments: Map<string, XmlElement | undefined>
  /** kagi's SCEP profile (read only with `--scep`). */
  scep?: XmlElement
}

/** The request that makes one change. */
export type ChangeRequest =
  | { action: 'import'; name: string; pem: string }
  /** `set` merges `element` (children of the xpath node); `edit` replaces the node with it (reference §1.4). */
  | { action: 'set' | 'edit'; xpath: string; element: string }

/** One difference between the firewall and what kagi wants, and how to remove it. */
export interface Change {
  /** `+` something is added, `~` something is changed. */
  symbol: '+' | '~'
  /** One line for people, e.g. `certificate-profile kagi-devices: use-ocsp no → yes`. */
  summary: string
  request: ChangeRequest
}

const show = (value: string | undefined): string => (value === undefined || value === '' ? '(unset)' : `"${value}"`)

/** The child `entry` named `name`. */
function entryNamed(parent: XmlElement | undefined, name: string): XmlElement | undefined {
  return parent && childElements(parent, 'entry').find((e) => e.attributes.name === name)
}

/** PEMs compared without whitespace: PAN-OS echoes `public-key` without the final newline (reference §1.5). */
const samePem = (a: string, b: string): boolean => a.replace(/\s+/g, '') === b.replace(/\s+/g, '')

function certificateChanges(desired: DesiredState, seen: ObservedState): Change[] {
  return desired.certificates.flatMap((cert): Change[] => {
    const existing = seen.certificates.get(cert.name)
    const request: ChangeRequest = { action: 'import', name: cert.name, pem: cert.pem }
    if (!existing) return [{ symbol: '+', summary: `certificate ${cert.name}: import ${cert.role} CA ${cert.subject} (SHA-256 ${cert.fingerprint})`, request }]
    const held = textOf(findPath(existing, 'public-key'))
    if (samePem(held, cert.pem)) return []
    return [{ symbol: '~', summary: `certificate ${cert.name}: the firewall holds a different certificate under this name; import ${cert.role} CA ${cert.subject} again`, request }]
  })
}

function profileChanges(desired: DesiredState, seen: ObservedState): Change[] {
  const profile = desired.profile
  const xpath = profileXpath(profile)
  const existing = seen.profile
  if (!existing) {
    const flags = profile.flags.map(([f, v]) => `${f} ${v}`).join(', ')
    const cas = profile.cas.map((c) => c.name).join(' and ')
    const summary = `certificate-profile ${profile.name}: create with CA ${cas} (default-ocsp-url ${profile.cas[0]?.ocspUrl}), username-field ${profile.usernameField.choice} ${profile.usernameField.value}, ${flags}`
    return [{ symbol: '+', summary, request: { action: 'set', xpath: `${SHARED_XPATH}/certificate-profile`, element: profileElement(profile) } }]
  }
  const changes: Change[] = []
  const caList = findPath(existing, 'CA')
  for (const ca of profile.cas) {
    const entry = entryNamed(caList, ca.name)
    if (!entry) {
      changes.push({
        symbol: '+',
        summary: `certificate-profile ${profile.name}: add CA ${ca.name} with default-ocsp-url ${ca.ocspUrl}`,
        request: { action: 'set', xpath: `${xpath}/CA`, element: serializeXml(caEntryElement(ca)) },
      })
      continue
    }
    const url = textOf(findPath(entry, 'default-ocsp-url')).trim()
    if (url !== ca.ocspUrl) {
      changes.push({
        symbol: '~',
        summary: `certificate-profile ${profile.name}: CA ${ca.name} default-ocsp-url ${show(url)} → "${ca.ocspUrl}"`,
        request: { action: 'set', xpath: `${xpath}/CA/entry[@name='${ca.name}']`, element: serializeXml(element('default-ocsp-url', {}, [ca.ocspUrl])) },
      })
    }
  }
  const field = findPath(existing, 'username-field')
  const choices = field ? childElements(field) : []
  const want = profile.usernameField
  if (choices.length !== 1 || choices[0]!.name !== want.choice || textOf(choices[0]).trim() !== want.value) {
    const now = choices.map((c) => `${c.name} ${textOf(c).trim()}`).join(' + ') || '(unset)'
    changes.push({
      symbol: '~',
      summary: `certificate-profile ${profile.name}: username-field ${now} → ${want.choice} ${want.value}`,
      // A choice: `set` would merge the new child next to the old one, so the node is replaced.
      request: { action: 'edit', xpath: `${xpath}/username-field`, element: serializeXml(usernameFieldElement(want)) },
    })
  }
  for (const [flag, value] of profile.flags) {
    const now = textOf(findPath(existing, flag)).trim()
    if (now === value) continue
    changes.push({
      symbol: '~',
      summary: `certificate-profile ${profile.name}: ${flag} ${show(now)} → "${value}"`,
      request: { action: 'set', xpath, element: serializeXml(element(flag, {}, [value])) },
    })
  }
  return changes
}

function attachmentChanges(desired: DesiredState, seen: ObservedState): Change[] {
  return desired.attachments.flatMap((a): Change[] => {
    const entry = seen.attachments.get(a.kind)
    const setting = a.kind === 'portal' ? findPath(entry, 'portal-config/certificate-profile') : findPath(entry, 'certificate-profile')
    const now = textOf(setting).trim()
    if (entry && now === desired.profile.name) return []
    return [
      {
        symbol: '~',
        summary: `${a.kind} ${a.name}: certificate-profile ${show(now)} → "${desired.profile.name}"`,
        request: { action: 'set', xpath: a.settingXpath, element: serializeXml(element('certificate-profile', {}, [desired.profile.name])) },
      },
    ]
  })
}

function scepDiff(desired: DesiredState, seen: ObservedState): { object: Change[]; delivery: Change[] } {
  if (!desired.scep) return { object: [], delivery: [] }
  return { object: scepChanges(desired.scep, seen.scep), delivery: deliveryChanges(desired.scep, seen.attachments.get('portal')) }
}

/**
 * The changes that turn `seen` into what kagi wants, in the order they must
 * be applied (certificates before the profile and SCEP profile that name
 * them, those before the portal and gateway that name them). Like Ansible's check mode
 * (reference §1.10) only the settings kagi manages are compared: other
 * settings of the profile, other CAs in its list and everything else stay.
 */
export function diff(desired: DesiredState, seen: ObservedState): Change[] {
  const scep = scepDiff(desired, seen)
  return [...certificateChanges(desired, seen), ...profileChanges(desired, seen), ...scep.object, ...attachmentChanges(desired, seen), ...scep.delivery]
}

/** The changes as indented lines, or a single line saying there are none. */
export function formatChanges(changes: readonly Change[]): string[] {
  return changes.length ? changes.map((c) => `  ${c.symbol} ${c.summary}`) : ['  (no differences)']
}

/**
 * xpath of the node a change writes (for `set`, the child it merges in), so
 * reading it back shows the `admin` attribute PAN-OS stamps on modified
 * candidate nodes (reference §1.3).
 */
export function writtenXpath(change: Change): string {
  const r = change.request
  if (r.action === 'import') return certificateXpath(r.name)
  if (r.action === 'edit') return r.xpath
  const node = parseXml(r.element)
  return `${r.xpath}/${node.name}${node.attributes.name === undefined ? '' : `[@name='${node.attributes.name}']`}`
}
