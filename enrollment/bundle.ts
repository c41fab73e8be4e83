/**
 * One entry point for every platform: an issued credential in, the bytes a
 * user downloads out. The builders are pure (no I/O, no clock or randomness
 * except through BundleSettings), so src/ only adds HTTP around them.
 */
import { buildAndroidBundle } from './android.js'
import type { ApplePlatform } from './apple-payloads.js'
import { buildAppleProfile } from './apple-profile.js'
import { buildAppleScepProfile } from './apple-scep-profile.js'
import { fileStem } from './bundle-common.js'
import type { Bundle, Platform, BundleSettings, Credential, ManagedMacOptions, ScepEnrollment } from './bundle-types.js'
import { signAttached } from './cms-signed-data.js'
import { buildOnc } from './onc.js'
import { buildWindowsScript } from './windows-script.js'

export { bundleInstructions, type InstructionLanguage, type InstructionOptions } from './instructions.js'

/**
 * MIME types per platform. A .mobileconfig is served as
 * application/x-apple-aspen-config, signed (DER CMS) or not; ONC as
 * application/x-onc (onc_spec "Detection"). The PowerShell script carries a
 * private key, so it is served as application/octet-stream: a browser saves
 * it rather than displaying it (the route adds Content-Disposition: attachment).
 */
export const bundleContentTypes: Readonly<Record<Platform, string>> = {
  macos: 'application/x-apple-aspen-config',
  ios: 'application/x-apple-aspen-config',
  windows: 'application/octet-stream',
  chromeos: 'application/x-onc',
  android: 'application/zip',
}

/**
 * Builds the bundle for `platform`: a .mobileconfig (macOS, iOS; CMS-signed
 * when settings.signer is set), a .ps1 (Windows), a .onc (ChromeOS) or a .zip
 * (Android, whose PKCS#12 password is returned in pkcs12Password).
 * `managed`: the MDM-only macOS additions (bundle-types.ts), ignored elsewhere.
 */
export function buildBundle(platform: Platform, credential: Credential, settings: BundleSettings, managed?: ManagedMacOptions): Bundle {
  const stem = fileStem(credential)
  const contentType = bundleContentTypes[platform]
  switch (platform) {
    case 'macos':
    case 'ios':
      return appleBundle(platform, buildAppleProfile(platform, credential, settings, managed), stem, settings)
    case 'windows':
      return { body: buildWindowsScript(credential, settings), filename: `${stem}.ps1`, contentType }
    case 'chromeos':
      return { body: buildOnc(credential, settings), filename: `${stem}.onc`, contentType }
    case 'android': {
      const { body, filename, pkcs12Password } = buildAndroidBundle(credential, settings)
      return { body, filename, contentType, pkcs12Password }
    }
  }
}

/**
 * The SCEP-enrollment profile for macOS or iOS (apple-scep-profile.ts),
 * CMS-signed when settings.signer is set. Other platforms have no SCEP
 * payload kagi could hand out.
 */
export function buildScepBundle(platform: ApplePlatform, enrollment: ScepEnrollment, settings: BundleSettings, managed?: ManagedMacOptions): Bundle {
  return appleBundle(platform, buildAppleScepProfile(platform, enrollment, settings, managed), fileStem(enrollment), settings)
}

function appleBundle(platform: ApplePlatform, profile: Buffer, stem: string, settings: BundleSettings): Bundle {
  const body = settings.signer ? signAttached(profile, settings.signer, settings.now ?? new Date()) : profile
  return { body, filename: `${stem}.mobileconfig`, contentType: bundleContentTypes[platform] }
}
