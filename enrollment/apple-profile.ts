/**
 * The macOS and iOS configuration profile (.mobileconfig) for a credential,
 * unsigned (bundle.ts signs it when a profile signer is configured).
 *
 * Keys and payload types follow Apple's schema (apple/device-management,
 * mdm/profiles: TopLevel, CommonPayloadKeys, com.apple.security.root,
 * com.apple.security.pkcs1, com.apple.security.pkcs12,
 * com.apple.ManagedClient.preferences, com.apple.vpn.managed); the
 * GlobalProtect parts follow panos-and-globalprotect.md §3.3 and §3.4.
 */
import type { BundleSettings, Credential } from './bundle-types.js'
import { credentialPkcs12, fileStem, issuingAndRoot, portalAddress, randomSource, stableUuid } from './bundle-common.js'
import { newPkcs12Password } from './password.js'
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
export const appleProfileIdentifier = (credential: Credential, settings: BundleSettings): string =>
  `${settings.identifierPrefix}.enrollment.${credential.kind}.${credential.deviceId}`

/** CommonPayloadKeys; the UUID derives from the (profile-unique) identifier. */
function payload(type: string, identifier: string, displayName: string, fields: Record<string, PlistValue>): PlistDict {
  return { PayloadType: type, PayloadVersion: 1, PayloadIdentifier: identifier, PayloadUUID: stableUuid(identifier), PayloadDisplayName: displayName, ...fields }
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
function globalProtectSettings(identifier: string, portal: string, credential: Credential): PlistDict {
  const panSetup: Record<string, string> = { Portal: portal }
  if (credential.kind === 'device') panSetup.Prelogon = '1'
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
 * through PayloadCertificateUUID = the pkcs12 payload's PayloadUUID.
 */
function globalProtectVpn(identifier: string, portal: string, credential: Credential, settings: BundleSettings, identityUuid: string): PlistDict {
  return payload('com.apple.vpn.managed', `${identifier}.vpn`, `${settings.organization} VPN`, {
    UserDefinedName: `${settings.organization} VPN`,
    VPNType: 'VPN',
    VPNSubType: settings.vpnSubType,
    VPN: { RemoteAddress: portal, AuthName: credential.email, AuthenticationMethod: 'Certificate', PayloadCertificateUUID: identityUuid },
    IPv4: { OverridePrimary: 0 },
  })
}

/**
 * Builds the unsigned profile: root CA (com.apple.security.root), issuing CA
 * (com.apple.security.pkcs1), the identity (com.apple.security.pkcs12 with
 * its random password in `Password`, so the user is not prompted for it),
 * and, when a portal is configured, the GlobalProtect settings (macOS) or the
 * VPN payload (iOS). On macOS, PayloadScope puts a user certificate into the
 * login keychain and a machine certificate into the System keychain.
 */
export function buildAppleProfile(platform: ApplePlatform, credential: Credential, settings: BundleSettings): Buffer {
  const { issuing, root } = issuingAndRoot(credential.chain)
  const portal = portalAddress(settings.portal)
  const identifier = appleProfileIdentifier(credential, settings)
  const stem = fileStem(credential)
  const password = newPkcs12Password(randomSource(settings))

  const identity = payload('com.apple.security.pkcs12', `${identifier}.identity`, credential.subject, {
    PayloadContent: credentialPkcs12(credential, settings, password, false),
    Password: password,
    PayloadCertificateFileName: `${stem}.p12`,
  })
  const content: PlistDict[] = [
    payload('com.apple.security.root', `${identifier}.root`, `${settings.organization} Root CA`, {
      PayloadContent: root,
      PayloadCertificateFileName: 'kagi-root-ca.cer',
    }),
    payload('com.apple.security.pkcs1', `${identifier}.issuing`, `${settings.organization} Issuing CA`, {
      PayloadContent: issuing,
      PayloadCertificateFileName: 'kagi-issuing-ca.cer',
    }),
    identity,
  ]
  if (portal && platform === 'macos') content.push(globalProtectSettings(identifier, portal, credential))
  if (portal && platform === 'ios') content.push(globalProtectVpn(identifier, portal, credential, settings, identity.PayloadUUID as string))

  const what = credential.kind === 'device' ? 'machine certificate' : 'user certificate'
  const vpn = portal ? ` and the GlobalProtect portal ${portal}` : ''
  const profile: Record<string, PlistValue> = {
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: identifier,
    PayloadUUID: stableUuid(identifier),
    PayloadDisplayName: `${settings.organization} VPN ${what} (${credential.deviceName})`,
    PayloadOrganization: settings.organization,
    PayloadDescription: `Installs the ${what} ${credential.subject} (serial ${credential.serial}) for ${credential.deviceName}, the ${settings.organization} CA certificates${vpn}.`,
    PayloadContent: content,
  }
  // PayloadScope exists on macOS only (apple-dm TopLevel, macOS 10.8+).
  if (platform === 'macos') profile.PayloadScope = credential.kind === 'device' ? 'System' : 'User'
  return buildPlist(profile)
}
