/**
 * The macOS and iOS configuration profile (.mobileconfig) for a credential
 * kagi issued with a key it generated, unsigned (bundle.ts signs it when a
 * profile signer is configured). The identity travels as a
 * com.apple.security.pkcs12 payload (apple-dm); the rest is shared with the
 * SCEP profile (apple-payloads.ts).
 */
import { allAppsAccess, appleProfileIdentifier, buildProfilePlist, caPayloads, managedMacPayloads, payload, portalPayloads, type ApplePlatform } from './apple-payloads.js'
import type { BundleSettings, Credential, ManagedMacOptions } from './bundle-types.js'
import { credentialPkcs12, fileStem, portalAddress, randomSource } from './bundle-common.js'
import { newPkcs12Password } from './password.js'

/**
 * Builds the unsigned profile: root CA, issuing CA, the identity
 * (com.apple.security.pkcs12 with its random password in `Password`, so the
 * user is not prompted for it), and, when a portal is configured, the
 * GlobalProtect settings (macOS) or the VPN payload (iOS). `managed` adds
 * what only an MDM may install (macOS): the system-extension policy and AllowAllAppsAccess.
 */
export function buildAppleProfile(platform: ApplePlatform, credential: Credential, settings: BundleSettings, managed?: ManagedMacOptions): Buffer {
  const portal = portalAddress(settings.portal)
  const identifier = appleProfileIdentifier(credential, settings)
  const password = newPkcs12Password(randomSource(settings))

  const identity = payload('com.apple.security.pkcs12', `${identifier}.identity`, credential.subject, {
    PayloadContent: credentialPkcs12(credential, settings, password, false),
    Password: password,
    PayloadCertificateFileName: `${fileStem(credential)}.p12`,
    ...allAppsAccess(platform, managed),
  })
  const content = [
    ...caPayloads(identifier, credential.chain, settings),
    identity,
    ...portalPayloads(platform, identifier, portal, credential, settings, identity),
    ...managedMacPayloads(platform, identifier, managed),
  ]

  const what = credential.kind === 'device' ? 'machine certificate' : 'user certificate'
  const vpn = portal ? ` and the GlobalProtect portal ${portal}` : ''
  return buildProfilePlist(platform, credential, identifier, settings, {
    displayName: `${settings.organization} VPN ${what} (${credential.deviceName})`,
    description: `Installs the ${what} ${credential.subject} (serial ${credential.serial}) for ${credential.deviceName}, the ${settings.organization} CA certificates${vpn}.`,
  }, content)
}
