/**
 * Types shared by the per-OS enrollment bundle builders: what goes in (an
 * issued credential and deployment settings) and what comes out (bytes to
 * download, with a file name and a MIME type).
 */
import type { KeyObject } from 'node:crypto'
import type { EnrollmentProfile } from '../profiles/index.js'

/** The one list of operating systems kagi enrolls (device inventory, page, API, CLI), in the order a UI lists them. */
export const platforms = ['macos', 'ios', 'windows', 'chromeos', 'android'] as const

/** An operating system kagi builds an installable bundle for. */
export type Platform = (typeof platforms)[number]

/** Whom and which device a bundle is for: file names and profile identifiers derive from it. */
export interface BundleTarget {
  /** `user` → login keychain / CurrentUser\My; `device` → System keychain / LocalMachine\My. */
  kind: EnrollmentProfile
  /** The certificate CN (email or hostname). */
  subject: string
  /** The owner's email. */
  email: string
  /** kagi's device id (uuid), stable across re-enrollment: identifiers derive from it. */
  deviceId: string
  deviceName: string
  /** CA certificates, DER: [issuing CA, root CA]. */
  chain: readonly Buffer[]
}

/** An issued credential kagi generated the key for. */
export interface Credential extends BundleTarget {
  /** Leaf certificate, DER. */
  certificate: Buffer
  /** RSA or EC private key of the leaf. */
  privateKey: KeyObject
  /** Certificate serial, hex; for file names and display only. */
  serial: string
}

/**
 * A device that is to enroll itself over SCEP (RFC 8894): no key and no
 * certificate yet, the device makes its key and asks kagi with the
 * challenge. `deviceId` is kagi's device id, or, for a device kagi creates
 * only when it enrolls, a UUID derived from the serial number the MDM names
 * it by (the caller's choice, as long as it is stable for the device).
 */
export interface ScepEnrollment extends BundleTarget {
  /** kagi's SCEP URL, with the `?profile=` the challenge is bound to. */
  url: string
  /** The one-time challenge (the CSR's challengePassword). */
  challenge: string
}

/**
 * What only a user-approved MDM may install on a Mac, so never in a profile
 * the page hands out: macOS accepts a system-extension policy from an MDM
 * on the device channel only (apple-dm com.apple.system-extension-policy:
 * supervised or user-approved MDM, allowmanualinstall false).
 */
export interface ManagedMacOptions {
  /** Pre-approve GlobalProtect's network extension (com.apple.system-extension-policy), so the user has no "Allow" step. */
  systemExtension: boolean
  /** AllowAllAppsAccess on the identity payload: every app, not only GlobalProtect after a keychain prompt, may use the key. */
  allowAllAppsAccess: boolean
}

/** The certificate and key that sign Apple configuration profiles. */
export interface ProfileSigner {
  certificate: Buffer
  privateKey: KeyObject
  /** DER: [issuing CA, root CA] (or whatever chain leads from the signer to a root). */
  chain: readonly Buffer[]
}

/** Deployment settings, the same for every bundle of one kagi installation. */
export interface BundleSettings {
  /** KAGI_CA_NAME, shown as PayloadOrganization and in descriptions. */
  organization: string
  /** Reverse-DNS prefix, e.g. 'com.example.kagi' (derived by the caller from KAGI_PUBLIC_URL). */
  identifierPrefix: string
  /**
   * GlobalProtect portal address (KAGI_GP_PORTAL), a host name with an optional
   * port. Optional: without it no VPN payload and no registry value are
   * written, and the instructions ask the user to type the portal address.
   */
  portal?: string
  /** iOS VPNSubType (bundle id of the GlobalProtect app); see {@link defaultVpnSubType}. */
  vpnSubType: string
  /** When present, Apple profiles are CMS-signed; absent → unsigned. */
  signer?: ProfileSigner
  /** Randomness source (tests inject a seeded one so golden files are byte-exact). Default crypto.randomBytes. */
  random?: (size: number) => Buffer
  /** Signing time for CMS (tests fix it); also the timestamp of ZIP entries. Default new Date(). */
  now?: Date
}

/**
 * The VPNSubType in Palo Alto's own iOS example profile. Some MDM vendors use
 * `com.paloaltonetworks.globalprotect.vpn` for the current app: which one the
 * current app requires is UNCONFIRMED (panos-and-globalprotect.md §3.4), hence
 * a setting.
 */
export const defaultVpnSubType = 'com.paloaltonetworks.GlobalProtect.vpnplugin'

/** One downloadable bundle. */
export interface Bundle {
  body: Buffer
  /** e.g. 'kagi-alice-macbook.mobileconfig' (stem sanitised to [a-z0-9-], whole name ≤ 64 chars). */
  filename: string
  contentType: string
  /** One-time PKCS#12 password the user must type, only when the platform needs it (android); undefined otherwise. */
  pkcs12Password?: string
}
