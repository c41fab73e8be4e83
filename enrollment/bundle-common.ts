/**
 * What every bundle builder derives from a credential and the settings: a
 * file name, stable identifiers, the PKCS#12 and a checked portal address.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { BundleSettings, BundleTarget, Credential } from './bundle-types.js'
import { buildPkcs12 } from './pkcs12.js'

/** The settings' randomness source, or crypto.randomBytes. */
export const randomSource = (settings: Pick<BundleSettings, 'random'>): ((size: number) => Buffer) => settings.random ?? randomBytes

/**
 * A UUID derived from a name: the first 16 bytes of SHA-256(name) with the
 * RFC 4122 §4.1.1 variant bits and version nibble 5 ("name-based"; v5 proper
 * uses SHA-1 and a namespace, which adds nothing here), uppercase as Apple's
 * `uuidgen` prints. The same name always gives the same UUID, so re-enrolling
 * a device produces payloads the OS recognises as the same ones (apple-dm
 * CommonPayloadKeys: "the system updates payloads with the same
 * PayloadIdentifier and PayloadUUID").
 */
export function stableUuid(name: string): string {
  const b = createHash('sha256').update(name, 'utf8').digest().subarray(0, 16)
  b[6] = (b[6]! & 0x0f) | 0x50
  b[8] = (b[8]! & 0x3f) | 0x80
  const hex = b.toString('hex').toUpperCase()
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** Lowercase [a-z0-9-] with single hyphens and none at the ends. */
const slug = (text: string): string =>
  text
    .normalize('NFKD') // é → e + combining accent, which the next line drops
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')

/** Longest file name stem, leaving room for the longest extension (".mobileconfig", 13 chars) in 64. */
const MAX_STEM = 64 - '.mobileconfig'.length

/**
 * File name stem for a credential: `kagi-<device name>` (plus `-device` for a
 * machine certificate), sanitised to [a-z0-9-] so that it is safe in a
 * Content-Disposition header, a shell and every file system. A device name
 * with no ASCII letters (e.g. Japanese) falls back to the subject, then to
 * the device id.
 */
export function fileStem(credential: Pick<BundleTarget, 'kind' | 'subject' | 'deviceId' | 'deviceName'>): string {
  const name = slug(credential.deviceName) || slug(credential.subject) || slug(credential.deviceId) || 'credential'
  const suffix = credential.kind === 'device' ? '-device' : ''
  const stem = `kagi-${name}`.slice(0, MAX_STEM - suffix.length).replace(/-+$/, '')
  return stem + suffix
}

/** The name the OS shows for the imported identity, e.g. "alice@example.com (Example Corp)". */
export const friendlyName = (credential: Credential, settings: Pick<BundleSettings, 'organization'>): string =>
  `${credential.subject} (${settings.organization})`

/**
 * The credential as a legacy-compatible PKCS#12 (3DES + HMAC-SHA1, see
 * pkcs12.ts). `withChain` adds the CA certificates; Apple, Windows and ONC
 * bundles leave them out because they install the CAs as separate trust
 * entries (and apple-dm's pkcs12 payload takes one certificate).
 */
export function credentialPkcs12(credential: Credential, settings: Pick<BundleSettings, 'organization' | 'random'>, password: string, withChain: boolean): Buffer {
  return buildPkcs12({
    privateKey: credential.privateKey,
    certificate: credential.certificate,
    chain: withChain ? credential.chain : [],
    friendlyName: friendlyName(credential, settings),
    password,
    random: randomSource(settings),
  })
}

/** [issuing, root] from the credential's chain; throws if either is missing. */
export function issuingAndRoot(chain: readonly Buffer[]): { issuing: Buffer; root: Buffer } {
  const [issuing, root] = chain
  if (!issuing || !root || chain.length !== 2) throw new Error('the credential chain must be [issuing CA, root CA]')
  return { issuing, root }
}

// A DNS name or IPv4 address with an optional port: nothing that could break
// out of a quoted string in a PowerShell script, a shell command or XML.
const PORTAL = /^(?=.{1,253}(:|$))[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?$/

/** The portal address (BundleSettings.portal), checked; undefined when none is configured. */
export function portalAddress(value: string | undefined): string | undefined {
  const portal = value?.trim()
  if (portal === undefined || portal === '') return undefined
  if (!PORTAL.test(portal)) throw new Error(`the GlobalProtect portal "${portal.slice(0, 80)}" is not a host name (with an optional :port)`)
  return portal
}
