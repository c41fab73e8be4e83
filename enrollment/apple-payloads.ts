/**
 * The parts every kagi configuration profile shares, whichever way the
 * identity arrives (a PKCS#12 kagi built, or a SCEP request the device
 * makes): identifiers, the CA certificate payloads, the GlobalProtect
 * payloads and the top-level dictionary.
 *
 * Keys and payload types follow Apple's schema (apple/device-management,
 * mdm/profiles: TopLevel, CommonPayloadKeys, com.apple.security.root,
 * com.apple.security.pkcs1, com.apple.ManagedClient.preferences,
 * com.apple.vpn.managed); the GlobalProtect parts follow
 * panos-and-globalprotect.md §3.3 and §3.4.
 */
import type { BundleSettings, BundleTarget, ManagedMacOptions } from './bundle-types.js'
import { issuingAndRoot, stableUuid } from './bundle-common.js'
import { buildPlist, type PlistDict, type PlistValue } from './plist.js'

export type ApplePlatform = 'macos' | 'ios'

/** The preference domain (and plist name in /Library/Preferences) GlobalProtect reads on macOS. */
export const globalProtectSettingsDomain = 'com.paloaltonetworks.GlobalProtect.settings'

/**
 * Top-level PayloadIdentifier: stable per device and certificate kind, so that
 * installing the profile of a re-enrolled device replaces the old one
 * (apple-dm TopLevel: same identifier ⇒ replacement) instead of adding a
 * second identity.
 */
export const appleProfileIdentifier = (target: Pick<BundleTarget, 'kind' | 'deviceId'>, settings: Pick<BundleSettings, 'identifierPrefix'>): string =>
  `${settings.identifierPrefix}.enrollment.${target.kind}.${target.deviceId}`

/** CommonPayloadKeys; the UUID derives from the (profile-unique) identifier. */
export function payload(type: string, identifier: string, displayName: string, fields: Record<string, PlistValue>): PlistDict {
  return { PayloadType: type, PayloadVersion: 1, PayloadIdentifier: identifier, PayloadUUID: stableUuid(identifier), PayloadDisplayName: displayName, ...fields }
}

/** Root CA (com.apple.security.root) and issuing CA (com.apple.security.pkcs1). */
export function caPayloads(identifier: string, chain: readonly Buffer[], settings: Pick<BundleSettings, 'organization'>): PlistDict[] {
  const { issuing, root } = issuingAndRoot(chain)
  return [
    payload('com.apple.security.root', `${identifier}.root`, `${settings.organization} Root CA`, {
      PayloadContent: root,
      PayloadCertificateFileName: 'kagi-root-ca.cer',
    }),
    payload('com.apple.security.pkcs1', `${identifier}.issuing`, `${settings.organization} Issuing CA`, {
      PayloadContent: issuing,
      PayloadCertificateFileName: 'kagi-issuing-ca.cer',
    }),
  ]
}

/**
 * macOS custom-settings payload for GlobalProtect's preference domain, laid
 * out like GlobalProtect's own plist: `Palo Alto Networks` → `GlobalProtect`
 * → `PanSetup` → `Portal` (and `Prelogon` "1" for a machine certificate,
 * which is what pre-logon needs). Values are strings, as GlobalProtect writes them.
 *
 * Decision, kept on purpose: GlobalProtect is documented to read
 * /Library/Preferences/com.paloaltonetworks.GlobalProtect.settings.plist, and
 * a third-party source says it does NOT read managed preferences
 * (/Library/Managed Preferences), which is where this payload lands —
 * UNCONFIRMED either way (reference §3.3). The payload costs nothing when
 * ignored and configures the portal when honoured, so kagi ships it, and the
 * macOS instructions (instructions.ts) always give the `defaults write`
 * command that writes the documented plist as the fallback.
 */
function globalProtectSettings(identifier: string, portal: string, target: BundleTarget): PlistDict {
  const panSetup: Record<string, string> = { Portal: portal }
  if (target.kind === 'device') panSetup.Prelogon = '1'
  return payload('com.apple.ManagedClient.preferences', `${identifier}.globalprotect`, 'GlobalProtect portal', {
    PayloadContent: {
      [globalProtectSettingsDomain]: {
        Forced: [{ mcx_preference_settings: { 'Palo Alto Networks': { GlobalProtect: { PanSetup: panSetup } } } }],
      },
    },
  })
}

/**
 * iOS VPN payload for the GlobalProtect app, as in Palo Alto's example
 * device-level VPN configuration (reference §3.4): the identity is referenced
 * through PayloadCertificateUUID = the identity payload's PayloadUUID
 * (pkcs12 or scep, reference §4).
 */
function globalProtectVpn(identifier: string, portal: string, target: BundleTarget, settings: BundleSettings, identityUuid: string): PlistDict {
  return payload('com.apple.vpn.managed', `${identifier}.vpn`, `${settings.organization} VPN`, {
    UserDefinedName: `${settings.organization} VPN`,
    VPNType: 'VPN',
    VPNSubType: settings.vpnSubType,
    VPN: { RemoteAddress: portal, AuthName: target.email, AuthenticationMethod: 'Certificate', PayloadCertificateUUID: identityUuid },
    IPv4: { OverridePrimary: 0 },
  })
}

/** When a portal is configured: the GlobalProtect settings (macOS) or the VPN payload using `identity` (iOS). */
export function portalPayloads(platform: ApplePlatform, identifier: string, portal: string | undefined, target: BundleTarget, settings: BundleSettings, identity: PlistDict): PlistDict[] {
  if (!portal) return []
  if (platform === 'macos') return [globalProtectSettings(identifier, portal, target)]
  return [globalProtectVpn(identifier, portal, target, settings, identity.PayloadUUID as string)]
}

/**
 * GlobalProtect's macOS network extension (panos-and-globalprotect.md §3.3,
 * as `systemextensionsctl list` shows it on a Mac running GlobalProtect 5.1.4+).
 */
export const globalProtectSystemExtension = { teamId: 'PXPZ95SK77', bundleId: 'com.paloaltonetworks.GlobalProtect.client.extension' } as const

/**
 * com.apple.system-extension-policy allowing exactly GlobalProtect's network
 * extension: AllowedSystemExtensions names the team and the one bundle
 * (AllowedTeamIdentifiers would allow every extension Palo Alto signs), and
 * AllowedSystemExtensionTypes limits it to a network extension. Device
 * channel only (apple-dm), hence only in machine-certificate profiles that
 * an MDM delivers.
 */
export function systemExtensionPolicy(identifier: string): PlistDict {
  const { teamId, bundleId } = globalProtectSystemExtension
  return payload('com.apple.system-extension-policy', `${identifier}.system-extension`, 'GlobalProtect system extension', {
    AllowedSystemExtensions: { [teamId]: [bundleId] },
    AllowedSystemExtensionTypes: { [teamId]: ['NetworkExtension'] },
  })
}

/** The MDM-only payloads (macOS): the system-extension policy when asked for. */
export function managedMacPayloads(platform: ApplePlatform, identifier: string, managed: ManagedMacOptions | undefined): PlistDict[] {
  return platform === 'macos' && managed?.systemExtension ? [systemExtensionPolicy(identifier)] : []
}

/**
 * AllowAllAppsAccess for the identity payload (apple-dm com.apple.security.pkcs12
 * and .scep, macOS 10.10+): present only when an MDM-delivered macOS profile
 * asks for it; absent means false, every app but the one the user allows gets a prompt.
 */
export function allAppsAccess(platform: ApplePlatform, managed: ManagedMacOptions | undefined): Record<string, boolean> {
  return platform === 'macos' && managed?.allowAllAppsAccess ? { AllowAllAppsAccess: true } : {}
}

/** What a profile says about itself: display name and description (what it installs, for the person who installs it). */
export interface ProfileText {
  displayName: string
  description: string
}

/**
 * The top-level dictionary around `content`. On macOS, PayloadScope puts a
 * user certificate into the login keychain and a machine certificate into
 * the System keychain (apple-dm TopLevel, macOS 10.8+ only).
 */
export function buildProfilePlist(platform: ApplePlatform, target: BundleTarget, identifier: string, settings: BundleSettings, text: ProfileText, content: PlistDict[]): Buffer {
  const profile: Record<string, PlistValue> = {
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: identifier,
    PayloadUUID: stableUuid(identifier),
    PayloadDisplayName: text.displayName,
    PayloadOrganization: settings.organization,
    PayloadDescription: text.description,
    PayloadContent: content,
  }
  if (platform === 'macos') profile.PayloadScope = target.kind === 'device' ? 'System' : 'User'
  return buildPlist(profile)
}
