import type { Profile } from '@node-saml/node-saml'
import { DOMParser } from '@xmldom/xmldom'
import { isCertificateEmail } from '../../ca/index.js'
import { unsafeCharacter } from '../../enrollment/bundle-text.js'
import type { SamlConfig } from '../config.js'
import { adminGroupMatcher } from './admin-groups.js'

/** A signed-in employee, as taken from a verified assertion. */
export interface SignedInUser {
  email: string
  name?: string
  groups: string[]
  admin: boolean
}

/** A sign-in refused for a reason the user (and the log) should see. */
export class SignInError extends Error {
  override name = 'SignInError'
}

const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'

function values(profile: Profile, name: string): string[] {
  const value = (profile.attributes as Record<string, unknown> | undefined)?.[name]
  const list = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value]
  return list.filter((v): v is string => typeof v === 'string').map((v) => v.trim()).filter(Boolean)
}

/**
 * Maps a verified assertion to kagi's user: the email from an emailAddress
 * NameID or else the first configured email attribute (OneLogin: User.email);
 * groups from memberOf/groups; admin when a group is in KAGI_SAML_ADMIN_GROUPS
 * (a configured DN matches only that DN, a bare name also a DN whose CN it
 * is: admin-groups.ts).
 * Only node-saml's verified profile is read, never the raw message.
 */
export function identityFromProfile(profile: Profile, saml: SamlConfig): SignedInUser {
  let email: string | undefined
  if (profile.nameIDFormat === EMAIL_FORMAT && profile.nameID) email = profile.nameID
  for (const attribute of saml.emailAttributes) email ??= values(profile, attribute)[0]
  if (!email) throw new SignInError(`the IdP sent no email: expected an emailAddress NameID or one of the attributes ${saml.emailAttributes.join(', ')}`)
  email = email.trim().toLowerCase()
  if (!isCertificateEmail(email)) throw new SignInError(`the IdP's email "${email.slice(0, 80)}" is not an ASCII email address`)
  // Names and groups reach the database, the audit log and the page: text kagi cannot store or show
  // safely (a NUL, a control or bidi character; src/schemas/text.ts) is left out rather than refusing the sign-in.
  const groups = [...new Set(saml.groupsAttributes.flatMap((attribute) => values(profile, attribute)))].filter((group) => !unsafeCharacter(group))
  let name: string | undefined
  for (const candidate of saml.nameAttributes) {
    if (name) break
    const parts = candidate.split('+').map((attribute) => values(profile, attribute.trim())[0])
    if (parts.every(Boolean)) name = parts.join(' ').slice(0, 128)
    if (name && unsafeCharacter(name)) name = undefined
  }
  const admin = adminGroupMatcher(saml.adminGroups).matches(groups)
  return { email, name, groups: groups.slice(0, 100), admin }
}

/** The facts of the assertion that node-saml does not check itself. */
export interface AssertionFacts {
  id: string
  issuer: string
  /** When the assertion stops being usable: SubjectConfirmationData NotOnOrAfter or Conditions NotOnOrAfter. */
  expiresAt: Date
}

type XmlNode = Record<string, unknown> & { $?: Record<string, string> }
const first = (node: unknown, name: string): XmlNode | undefined => ((node as Record<string, unknown> | undefined)?.[name] as XmlNode[] | undefined)?.[0]

/**
 * Checks what SAML 2.0 Profiles §4.1.4.3 requires and node-saml 5 leaves to
 * the service provider: the bearer SubjectConfirmationData Recipient is the
 * ACS URL, the Response's Destination (when present, and it must be when the
 * Response is signed: SAML Bindings §3.5.5.2) is the ACS URL, and the
 * assertion has an ID for replay detection.
 */
export function checkAssertionFacts(profile: Profile, acsUrl: string, now: Date): AssertionFacts {
  // node-saml parses the verified assertion with xml2js: the root is an object, children are arrays.
  const assertion = (profile.getAssertion?.() as { Assertion?: XmlNode } | undefined)?.Assertion
  const id = assertion?.$?.ID
  if (!assertion || !id) throw new SignInError('the assertion has no ID')
  const data = first(first(first(assertion, 'Subject'), 'SubjectConfirmation'), 'SubjectConfirmationData')
  const recipient = data?.$?.Recipient
  if (recipient !== acsUrl) throw new SignInError(`the assertion's Recipient is ${recipient ? `"${recipient.slice(0, 120)}"` : 'missing'}, not this service's ${acsUrl}`)
  const responseXml = profile.getSamlResponseXml?.()
  if (responseXml) {
    const root = new DOMParser({ errorHandler: { warning: () => {}, error: () => {} } }).parseFromString(responseXml, 'text/xml').documentElement
    const destination = root?.getAttribute('Destination')
    if (destination && destination !== acsUrl) throw new SignInError(`the response's Destination "${destination.slice(0, 120)}" is not this service's ${acsUrl}`)
  }
  const times = [data?.$?.NotOnOrAfter, first(assertion, 'Conditions')?.$?.NotOnOrAfter].filter((t): t is string => Boolean(t)).map((t) => new Date(t).getTime())
  const expiresAt = new Date(times.length ? Math.max(...times) : now.getTime() + 60 * 60_000)
  return { id, issuer: profile.issuer ?? '', expiresAt }
}
