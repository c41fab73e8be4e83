import { isIP } from 'node:net'
import { portalAddress } from '../../enrollment/bundle-common.js'
import { defaultVpnSubType, type BundleSettings } from '../../enrollment/bundle-types.js'
import type { KagiServices } from '../startup/services.js'

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
    // Checked here, before anything is signed, rather than by the builder afterwards.
    portal: portalAddress(config.gpPortal),
    vpnSubType: config.gpVpnSubType || defaultVpnSubType,
    signer: signed ? await services.profileSigner.get() : undefined,
  }
}
