import { createHash, X509Certificate } from 'node:crypto'
import type { PanosConfig, UsernameField } from './config.js'
import { PanosError } from './errors.js'
import { certificateName, existingNameProblem, newNameProblem, scepProfileName } from './names.js'
import { element, serializeXml, type XmlElement } from './xml.js'

/** Shared location: certificates and certificate profiles visible to every vsys (reference §1.4, §1.5). */
export const SHARED_XPATH = '/config/shared'

/** The vsys root on a firewall, where GlobalProtect portals and gateways live (reference §1.4, §1.8). */
export const vsysXpath = (vsys: string): string => `/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='${vsys}']`

/** `parent/entry[@name='name']`; names are checked to contain no quote before they get here. */
export const entryXpath = (parent: string, name: string): string => `${parent}/entry[@name='${name}']`

/** Yes/no settings kagi enforces on its certificate profile, in PAN-OS element order (reference §1.7). */
export const profileFlags = [
  /** kagi writes a CRL distribution point into every certificate and publishes the CRL. */
  ['use-crl', 'yes'],
  /** kagi answers OCSP at the default-ocsp-url; PAN-OS tries OCSP before the CRL (reference §1.6). */
  ['use-ocsp', 'yes'],
  /** kagi answers "unknown" only for serials it never issued: refuse them. */
  ['block-unknown-cert', 'yes'],
  /** Fail closed when neither OCSP nor the (cached) CRL answers in time: a device CA exists to keep unknown devices out. */
  ['block-timeout-cert', 'yes'],
  /** "Not issued to the authenticating device" needs the GlobalProtect host ID in the certificate, which kagi does not put there. */
  ['block-unauthenticated-cert', 'no'],
  /** An expired certificate never opens a session. */
  ['block-expired-cert', 'yes'],
] as const

/** One of kagi's yes/no profile settings. */
export type ProfileFlag = (typeof profileFlags)[number][0]

/** A CA certificate kagi imports. */
export interface DesiredCertificate {
  role: 'root' | 'issuing'
  /** Name on the firewall (see certificateName). */
  name: string
  pem: string
  subject: string
  /** SHA-256 fingerprint, colon-separated hex, for people comparing with `kagi ca show`. */
  fingerprint: string
}

/** The certificate profile as kagi wants it (only the settings kagi manages). */
export interface DesiredProfile {
  name: string
  /** Its CA list: kagi's root and issuing CA, each with kagi's OCSP URL. */
  cas: { name: string; ocspUrl: string }[]
  /** The username-field choice: `<subject>common-name</subject>` or `<subject-alt>email|principal-name</subject-alt>`. */
  usernameField: { choice: 'subject' | 'subject-alt'; value: string }
  flags: readonly (readonly [ProfileFlag, 'yes' | 'no'])[]
}

/**
 * The SCEP profile settings kagi manages besides the challenge, as paths below
 * the entry. A path with a `/` runs through a choice (`algorithm` is `rsa` or
 * another key type), which is replaced whole rather than merged.
 *
 * UNCONFIRMED: neither the xpath `/config/shared/scep` nor these element names
 * are documented in the reference (§5 guesses the xpath); they are the
 * kebab-case of Strata Cloud Manager's SCEP profile model (scepUrl,
 * caIdentityName, subject, digest, algorithm.rsa.rsaNbits, scepCaCert,
 * useAsDigitalSignature, useForKeyEncipherment), which mirrors the PAN-OS
 * object. The test double (test/panos/fake-tree.ts) follows the same guess.
 */
export type ScepSetting = 'scep-url' | 'ca-identity-name' | 'subject' | 'digest' | 'algorithm/rsa/rsa-nbits' | 'scep-ca-cert' | 'use-as-digital-signature' | 'use-for-key-encipherment'

/** The SCEP profile kagi wants, and the portal agent configuration that delivers its certificate (`--scep`). */
export interface DesiredScep {
  name: string
  settings: readonly (readonly [ScepSetting, string])[]
  /**
   * The dynamic challenge (SCM `scepChallenge.dynamic`): the firewall fetches a
   * one-time challenge from kagi's NDES page with HTTP Basic `username` and
   * `password` (an mdm token). PAN-OS stores the password encrypted, so it is
   * never compared, only written (see scep-diff.ts).
   */
  challenge: { otpServerUrl: string; username: string; password: string }
  /** Write the password even when nothing else differs (`--rotate-scep-token`). */
  rotatePassword: boolean
  /** Portal agent configuration whose `client-certificate` becomes `<scep>name</scep>` (reference §1.8, "Portal-delivered client cert"). */
  delivery: { portal: string; config: string; configXpath: string }
}

/** Everything kagi wants on the firewall. */
export interface DesiredState {
  certificates: DesiredCertificate[]
  profile: DesiredProfile
  /** Portal and gateway to attach the profile to, with their xpaths. */
  attachments: { kind: 'portal' | 'gateway'; name: string; entryXpath: string; settingXpath: string }[]
  /** With `--scep`: the SCEP profile and its delivery. */
  scep?: DesiredScep
}

/** What the push needs from kagi: its CA certificates and the URLs it serves. */
export interface PushSource {
  rootPem: string
  issuingPem: string
  /** kagi's OCSP responder as the firewall reaches it, e.g. https://kagi.example.com/ocsp. */
  ocspUrl: string
  /** kagi's SCEP endpoint, e.g. https://kagi.example.com/scep (used with `--scep`). */
  scepUrl: string
  /** kagi's NDES challenge page, e.g. https://kagi.example.com/certsrv/mscep_admin/ (used with `--scep`). */
  scepChallengeUrl: string
}

/** Options of {@link desiredState}. */
export interface DesiredOptions {
  /** Write the SCEP challenge password again although nothing else changed. */
  rotateScepToken?: boolean
}

function caCertificate(role: 'root' | 'issuing', pem: string): DesiredCertificate {
  let cert: X509Certificate
  try {
    cert = new X509Certificate(pem)
  } catch {
    throw new PanosError('invalid_input', `kagi's ${role} CA certificate could not be read`)
  }
  if (!cert.ca) throw new PanosError('invalid_input', `kagi's ${role} CA certificate is not a CA (basicConstraints CA:TRUE missing); PAN-OS would not trust it`)
  const fingerprint = createHash('sha256').update(cert.raw).digest('hex').toUpperCase().match(/../g)!.join(':')
  return { role, name: certificateName(pem), pem: cert.toString(), subject: cert.subject.split('\n').join(', '), fingerprint }
}

function usernameField(field: UsernameField): DesiredProfile['usernameField'] {
  const [choice, value] = field.split(':') as ['subject' | 'subject-alt', string]
  return { choice, value }
}

/** Throws unless `url` is an http(s) URL of at most 255 characters (PAN-OS's default-ocsp-url limit; assumed for the SCEP URLs, whose limit is undocumented). */
function checkUrl(what: string, url: string): void {
  if (!/^https?:\/\/\S+$/.test(url) || url.length > 255) throw new PanosError('invalid_input', `${what} must be an http(s) URL of at most 255 characters (PAN-OS default-ocsp-url limit): ${url}`)
}

function desiredScep(source: PushSource, config: PanosConfig, rootName: string, portalEntry: string, options: DesiredOptions): DesiredScep {
  const scep = config.scep!
  const problem = existingNameProblem(scep.portalConfig)
  if (problem) throw new PanosError('invalid_input', `KAGI_PANOS_PORTAL_CONFIG ${problem}`)
  checkUrl('the SCEP URL', source.scepUrl)
  checkUrl('the SCEP challenge URL', source.scepChallengeUrl)
  return {
    name: scepProfileName(config.certProfile),
    settings: [
      ['scep-url', source.scepUrl],
      // Only a label in the request; kagi's SCEP server ignores it.
      ['ca-identity-name', 'kagi'],
      // kagi matches the common name against its users in KAGI_SCEP_ALLOWED_DOMAINS (README, "SCEP").
      ['subject', 'CN=$USERNAME'],
      ['digest', 'sha256'],
      ['algorithm/rsa/rsa-nbits', '2048'],
      // The CA that verifies kagi's server certificate for the https SCEP URL: kagi's root, imported above.
      ['scep-ca-cert', rootName],
      ['use-as-digital-signature', 'yes'],
      ['use-for-key-encipherment', 'yes'],
    ],
    challenge: { otpServerUrl: source.scepChallengeUrl, username: scep.username, password: scep.token },
    rotatePassword: options.rotateScepToken === true,
    delivery: { portal: config.portal!, config: scep.portalConfig, configXpath: entryXpath(`${portalEntry}/client-config/configs`, scep.portalConfig) },
  }
}

/**
 * Computes what kagi wants from its CA certificates, its URLs and the
 * configuration (with `config.scep`, also the SCEP profile and its delivery).
 * Throws PanosError (`invalid_input`) before any request when a name, a
 * certificate or a URL would be refused by PAN-OS.
 */
export function desiredState(source: PushSource, config: PanosConfig, options: DesiredOptions = {}): DesiredState {
  const problem = newNameProblem(config.certProfile)
  if (problem) throw new PanosError('invalid_input', `certificate profile name (KAGI_PANOS_CERT_PROFILE) ${problem}`)
  for (const [variable, value] of [['KAGI_PANOS_PORTAL', config.portal], ['KAGI_PANOS_GATEWAY', config.gateway]] as const) {
    const p = value === undefined ? undefined : existingNameProblem(value)
    if (p) throw new PanosError('invalid_input', `${variable} ${p}`)
  }
  checkUrl('the OCSP URL', source.ocspUrl)
  if (config.scep && !config.portal) throw new PanosError('invalid_input', 'KAGI_PANOS_PORTAL is required with --scep: the portal delivers the SCEP certificate')
  const certificates = [caCertificate('root', source.rootPem), caCertificate('issuing', source.issuingPem)]
  const vsys = vsysXpath(config.vsys)
  const attachments: DesiredState['attachments'] = []
  const portalEntry = config.portal === undefined ? '' : entryXpath(`${vsys}/global-protect/global-protect-portal`, config.portal)
  if (config.portal) attachments.push({ kind: 'portal', name: config.portal, entryXpath: portalEntry, settingXpath: `${portalEntry}/portal-config` })
  if (config.gateway) {
    const entry = entryXpath(`${vsys}/global-protect/global-protect-gateway`, config.gateway)
    attachments.push({ kind: 'gateway', name: config.gateway, entryXpath: entry, settingXpath: entry })
  }
  return {
    certificates,
    profile: {
      name: config.certProfile,
      cas: certificates.map((c) => ({ name: c.name, ocspUrl: source.ocspUrl })),
      usernameField: usernameField(config.usernameField),
      flags: profileFlags,
    },
    attachments,
    scep: config.scep ? desiredScep(source, config, certificates[0]!.name, portalEntry, options) : undefined,
  }
}

/** `<entry name="CA"><default-ocsp-url>…</default-ocsp-url></entry>` for the profile's CA list. */
export function caEntryElement(ca: DesiredProfile['cas'][number]): XmlElement {
  return element('entry', { name: ca.name }, [element('default-ocsp-url', {}, [ca.ocspUrl])])
}

/** `<username-field><subject-alt>email</subject-alt></username-field>` (a choice: exactly one child). */
export function usernameFieldElement(field: DesiredProfile['usernameField']): XmlElement {
  return element('username-field', {}, [element(field.choice, {}, [field.value])])
}

/** The whole profile entry, for creating it with `set` on …/certificate-profile (reference §1.7). */
export function profileElement(profile: DesiredProfile): string {
  return serializeXml(
    element('entry', { name: profile.name }, [
      element('CA', {}, profile.cas.map(caEntryElement)),
      usernameFieldElement(profile.usernameField),
      ...profile.flags.map(([flag, value]) => element(flag, {}, [value])),
    ]),
  )
}

/** xpath of kagi's certificate profile. */
export const profileXpath = (profile: DesiredProfile): string => entryXpath(`${SHARED_XPATH}/certificate-profile`, profile.name)

/** Where SCEP profiles live. UNCONFIRMED (reference §5: "likely /config/shared/scep/entry[@name=…]"). */
export const SCEP_XPATH = `${SHARED_XPATH}/scep`

/** xpath of kagi's SCEP profile. */
export const scepXpath = (scep: DesiredScep): string => entryXpath(SCEP_XPATH, scep.name)

/** xpath of an imported certificate (imports without `vsys` land in shared, reference §1.5). */
export const certificateXpath = (name: string): string => entryXpath(`${SHARED_XPATH}/certificate`, name)
