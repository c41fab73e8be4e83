import { isIP } from 'node:net'
import { buildBundle } from '../enrollment/bundle.js'
import { defaultVpnSubType, type Bundle, type BundlePlatform, type BundleSettings, type Credential } from '../enrollment/bundle-types.js'
import type { KagiServices } from './startup/services.js'

/**
 * Reverse-DNS prefix for profile identifiers, from KAGI_PUBLIC_URL's host
 * (kagi.example.com → com.example.kagi). Identifiers must not change while
 * devices hold profiles: re-enrolling replaces a profile only when its
 * PayloadIdentifier is the same.
 */
export function identifierPrefix(publicUrl: string): string {
  const host = new URL(publicUrl).hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) || !host.includes('.')) return 'local.kagi'
  return host.toLowerCase().split('.').reverse().join('.')
}

/** Bundle settings from kagi's configuration; Apple profiles signed unless `signed` is false. */
export async function bundleSettings(services: Pick<KagiServices, 'config' | 'profileSigner'>, signed = true): Promise<BundleSettings> {
  const { config } = services
  return {
    organization: config.caName,
    identifierPrefix: identifierPrefix(config.publicUrl),
    portal: config.gpPortal,
    vpnSubType: config.gpVpnSubType || defaultVpnSubType,
    signer: signed ? await services.profileSigner.get() : undefined,
  }
}

/** Builds the bundle for a platform from a credential kagi just issued. */
export async function bundleFor(
  services: Pick<KagiServices, 'config' | 'profileSigner'>,
  platform: BundlePlatform,
  credential: Credential,
  options: { signed?: boolean } = {},
): Promise<Bundle> {
  return buildBundle(platform, credential, await bundleSettings(services, options.signed ?? true))
}
