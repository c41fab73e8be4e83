/**
 * The macOS and iOS configuration profile (.mobileconfig) with which a
 * device enrolls itself over SCEP (RFC 8894): the device generates its key,
 * sends kagi a CSR with the one-time challenge, and installs the certificate
 * kagi returns. No private key ever leaves the device, so the profile holds
 * none. Unsigned here (bundle.ts signs it).
 */
import { allAppsAccess, appleProfileIdentifier, buildProfilePlist, caPayloads, managedMacPayloads, payload, portalPayloads, type ApplePlatform } from './apple-payloads.js'
import { portalAddress } from './bundle-common.js'
import type { BundleSettings, ManagedMacOptions, ScepEnrollment } from './bundle-types.js'
import type { PlistDict } from './plist.js'

/** `Key Usage` bits (apple-dm com.apple.security.scep): 1 signing, 4 encryption, i.e. digitalSignature and keyEncipherment for an RSA key. */
const SIGNING_AND_ENCRYPTION = 1 | 4

/**
 * com.apple.security.scep (apple-dm; reference §4). Subject is what the
 * device writes into its CSR, informational only: kagi takes the
 * certificate's names from the challenge's record, never from the CSR.
 * RSA 2048 (the default is 1024). KeyIsExtractable false keeps the key in
 * the keychain (macOS 10.13.4+). No CAFingerprint: which certificate of the
 * GetCACert answer Apple hashes (the root, says Apple's 802.1X white paper,
 * with SHA-1 or MD5) is UNCONFIRMED, and a wrong one fails every
 * enrollment, while TLS to an https KAGI_PUBLIC_URL already authenticates
 * kagi. Retries and RetryDelay keep their defaults: kagi never answers PENDING.
 */
function scepPayload(platform: ApplePlatform, identifier: string, enrollment: ScepEnrollment, settings: BundleSettings, managed: ManagedMacOptions | undefined): PlistDict {
  return payload('com.apple.security.scep', `${identifier}.identity`, enrollment.subject, {
    PayloadContent: {
      URL: enrollment.url,
      Name: settings.organization,
      Subject: [[['CN', enrollment.subject]]],
      Challenge: enrollment.challenge,
      Keysize: 2048,
      'Key Type': 'RSA',
      'Key Usage': SIGNING_AND_ENCRYPTION,
      KeyIsExtractable: false,
      ...allAppsAccess(platform, managed),
    },
  })
}

/**
 * Builds the unsigned profile: root CA, issuing CA, the SCEP payload, and,
 * when a portal is configured, the GlobalProtect settings (macOS) or the VPN
 * payload referring to the SCEP payload (iOS). Identifiers are those of the
 * PKCS#12 profile for the same device and kind, so one replaces the other.
 * `managed` as for the PKCS#12 profile (apple-profile.ts).
 */
export function buildAppleScepProfile(platform: ApplePlatform, enrollment: ScepEnrollment, settings: BundleSettings, managed?: ManagedMacOptions): Buffer {
  const portal = portalAddress(settings.portal)
  const identifier = appleProfileIdentifier(enrollment, settings)
  const identity = scepPayload(platform, identifier, enrollment, settings, managed)
  const content = [
    ...caPayloads(identifier, enrollment.chain, settings),
    identity,
    ...portalPayloads(platform, identifier, portal, enrollment, settings, identity),
    ...managedMacPayloads(platform, identifier, managed),
  ]

  const what = enrollment.kind === 'device' ? 'machine certificate' : 'user certificate'
  const vpn = portal ? ` and the GlobalProtect portal ${portal}` : ''
  return buildProfilePlist(platform, enrollment, identifier, settings, {
    displayName: `${settings.organization} VPN ${what} (${enrollment.deviceName})`,
    description: `Requests the ${what} ${enrollment.subject} for ${enrollment.deviceName} from ${settings.organization} over SCEP, and installs the ${settings.organization} CA certificates${vpn}.`,
  }, content)
}
