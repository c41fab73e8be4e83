/**
 * The differences of `kagi panos push --scep`: kagi's SCEP profile and the
 * portal agent configuration that delivers its certificate.
 *
 * UNCONFIRMED: the SCEP profile's xpath and element names are a guess from
 * the reference (§5) and Strata Cloud Manager's model (see ScepSetting in
 * desired-state.ts); the test double follows the same guess.
 */
import { SCEP_XPATH, scepXpath, type DesiredScep } from './desired-state.js'
import type { Change } from './diff.js'
import { childElements, element, findPath, serializeXml, textOf, type XmlElement } from './xml.js'

/** What the difference and every message show instead of the challenge password. */
export const SECRET = '<secret>'

const shown = (value: string): string => (value === '' ? '(unset)' : `"${value}"`)

/** `a/b/c` and `v` as `<a><b><c>v</c></b></a>`. */
function nested(path: string, value: string): XmlElement {
  const [head, ...rest] = path.split('/')
  return element(head!, {}, [rest.length ? nested(rest.join('/'), value) : value])
}

function challengeElement(challenge: DesiredScep['challenge']): XmlElement {
  const { otpServerUrl, username, password } = challenge
  return element('scep-challenge', {}, [
    element('dynamic', {}, [element('otp-server-url', {}, [otpServerUrl]), element('username', {}, [username]), element('password', {}, [password])]),
  ])
}

/** The challenge for people: never the password. */
const challengeSummary = (c: DesiredScep['challenge']): string => `dynamic (otp-server-url "${c.otpServerUrl}", username "${c.username}", password ${SECRET})`

/** The whole SCEP profile entry, for creating it with `set` on /config/shared/scep. */
export function scepElement(scep: DesiredScep): string {
  return serializeXml(element('entry', { name: scep.name }, [challengeElement(scep.challenge), ...scep.settings.map(([path, value]) => nested(path, value))]))
}

/** The managed settings that differ; a choice (`algorithm`) is replaced whole with `edit`, so an old key type does not stay beside the new one. */
function settingChanges(scep: DesiredScep, existing: XmlElement): Change[] {
  const xpath = scepXpath(scep)
  return scep.settings.flatMap(([path, want]): Change[] => {
    const [head, ...rest] = path.split('/')
    const now = textOf(findPath(existing, path)).trim()
    const single = rest.length === 0 || childElements(findPath(existing, head!) ?? element('x')).length === 1
    if (now === want && single) return []
    const request: Change['request'] = rest.length
      ? { action: 'edit', xpath: `${xpath}/${head}`, element: serializeXml(nested(path, want)) }
      : { action: 'set', xpath, element: serializeXml(element(path, {}, [want])) }
    return [{ symbol: '~', summary: `scep ${scep.name}: ${path} ${shown(now)} → "${want}"`, request }]
  })
}

/**
 * The challenge change, if one is due. PAN-OS stores the password encrypted,
 * so kagi cannot compare it: it writes the password when the challenge's
 * other fields differ, when another managed setting changes (the object is
 * being re-pointed, so the token may be stale too), when there is none, or on
 * `--rotate-scep-token`; otherwise a push with the same state writes nothing.
 */
function challengeChange(scep: DesiredScep, existing: XmlElement, othersChanged: boolean): Change | undefined {
  const choices = childElements(findPath(existing, 'scep-challenge') ?? element('x'))
  const dynamic = choices.length === 1 && choices[0]!.name === 'dynamic' ? choices[0] : undefined
  const want = scep.challenge
  let why: string | undefined
  if (!dynamic) why = `${choices.map((c) => c.name).join(' + ') || '(unset)'} → ${challengeSummary(want)}`
  else {
    const fields = ([['otp-server-url', want.otpServerUrl], ['username', want.username]] as const)
      .map(([field, value]) => [field, textOf(findPath(dynamic, field)).trim(), value] as const)
      .filter(([, now, value]) => now !== value)
      .map(([field, now, value]) => `${field} ${shown(now)} → "${value}"`)
    if (fields.length) why = `${fields.join(', ')}, password ${SECRET}`
    else if (!textOf(findPath(dynamic, 'password'))) why = `password (unset) → ${SECRET}`
    else if (othersChanged) why = `password ${SECRET} written again with the changed settings (PAN-OS keeps it encrypted, so kagi cannot compare it)`
    else if (scep.rotatePassword) why = `password → ${SECRET} (--rotate-scep-token)`
  }
  if (!why) return undefined
  // The choice (fixed | dynamic) is replaced whole: `set` would leave a fixed challenge beside the dynamic one.
  return { symbol: '~', summary: `scep ${scep.name}: scep-challenge ${why}`, request: { action: 'edit', xpath: `${scepXpath(scep)}/scep-challenge`, element: serializeXml(challengeElement(want)) } }
}

/** The changes that make the SCEP profile what kagi wants; other settings of the profile stay. */
export function scepChanges(scep: DesiredScep, existing: XmlElement | undefined): Change[] {
  if (!existing) {
    const settings = scep.settings.map(([path, value]) => `${path} ${value}`).join(', ')
    return [{ symbol: '+', summary: `scep ${scep.name}: create with ${settings}, scep-challenge ${challengeSummary(scep.challenge)}`, request: { action: 'set', xpath: SCEP_XPATH, element: scepElement(scep) } }]
  }
  const changes = settingChanges(scep, existing)
  const challenge = challengeChange(scep, existing, changes.length > 0)
  return challenge ? [...changes, challenge] : changes
}

/** The portal's agent configuration entries (`client-config/configs/entry`). */
export const agentConfigs = (portal: XmlElement | undefined): XmlElement[] => childElements(findPath(portal, 'client-config/configs') ?? element('x'), 'entry')

/** The change that makes the agent configuration deliver the SCEP profile's certificate (reference §1.8), if it does not yet. */
export function deliveryChanges(scep: DesiredScep, portal: XmlElement | undefined): Change[] {
  const { delivery } = scep
  const config = agentConfigs(portal).find((e) => e.attributes.name === delivery.config)
  const choices = childElements(findPath(config, 'client-certificate') ?? element('x'))
  if (choices.length === 1 && choices[0]!.name === 'scep' && textOf(choices[0]).trim() === scep.name) return []
  const now = choices.map((c) => `${c.name} "${textOf(c).trim()}"`).join(' + ') || '(unset)'
  return [
    {
      symbol: '~',
      summary: `portal ${delivery.portal} agent config ${delivery.config}: client-certificate ${now} → scep "${scep.name}"`,
      // A choice (local | scep): replaced whole, so a locally delivered certificate does not stay beside.
      request: { action: 'edit', xpath: `${delivery.configXpath}/client-certificate`, element: serializeXml(element('client-certificate', {}, [element('scep', {}, [scep.name])])) },
    },
  ]
}
