import { X509Certificate } from 'node:crypto'
import { ConfigError, type Config } from '../../config.js'
import { parseIdpMetadata, resolveIdp, type IdpSettings } from '../../auth/saml-idp.js'
import { describe, fail, NETWORK_TIMEOUT_MS, ok, skip, warn, type CheckResult } from './types.js'

/** An IdP signing certificate this close to expiry is warned about: sign-in stops the day it expires unless the metadata is refreshed. */
export const IDP_CERT_WARN_DAYS = 30

const DAY_MS = 86_400_000

/** The IdP settings as `kagi serve` reads them, a metadata URL fetched within {@link NETWORK_TIMEOUT_MS}. */
async function idpSettings(saml: Readonly<Config>['saml']): Promise<IdpSettings> {
  const source = saml.idpMetadata
  if (!source || !/^https?:\/\//i.test(source)) return resolveIdp(saml)
  let response: Response
  try {
    response = await fetch(source, { signal: AbortSignal.timeout(NETWORK_TIMEOUT_MS) })
  } catch (error) {
    const why = (error as Error).name === 'TimeoutError' ? `no answer within ${NETWORK_TIMEOUT_MS / 1000} s` : describe(error)
    throw new ConfigError(`KAGI_SAML_IDP_METADATA: cannot fetch ${source}: ${why}`)
  }
  if (!response.ok) throw new ConfigError(`KAGI_SAML_IDP_METADATA: ${source} answered HTTP ${response.status}`)
  const settings = parseIdpMetadata(await response.text())
  return saml.idpIssuer ? { ...settings, issuer: saml.idpIssuer } : settings
}

/**
 * SAML sign-in: the IdP metadata (or entry point and certificate) must load
 * as `kagi serve` loads it at start, and the IdP's signing certificates must
 * be valid (a response signed with an expired one is still checked against
 * it by kagi, but IdPs rotate keys around expiry and the metadata must
 * follow). Not configured: skipped, except in production, where kagi serve
 * refuses to start without it.
 */
export async function checkSaml(config: Readonly<Config>, now: Date): Promise<CheckResult> {
  const name = 'SAML'
  const { signInMode } = await import('../../web/routes.js')
  let mode
  try {
    mode = signInMode(config)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return fail(name, error.message, 'download the IdP\'s SAML metadata (OneLogin: SSO tab, "SAML Metadata") and set KAGI_SAML_IDP_METADATA to its path or URL')
  }
  if (mode === 'development') return skip(name, 'not configured: the enrollment page signs in with the development form (loopback only)', 'set KAGI_SAML_IDP_METADATA (README, SAML)')
  if (mode === 'none') return skip(name, 'not configured: the enrollment page has no sign-in (the API and the CLI work without it)', 'set KAGI_SAML_IDP_METADATA (README, SAML)')
  let settings: IdpSettings
  try {
    settings = await idpSettings(config.saml)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return fail(name, error.message, 'fix the IdP metadata source: kagi serve fails to start with it as it is')
  }
  const validTo = settings.certificates.map((pem) => new Date(new X509Certificate(pem).validTo))
  const latest = new Date(Math.max(...validTo.map((d) => d.getTime())))
  const where = `IdP ${settings.issuer ?? '(issuer not checked)'}, sign-in at ${new URL(settings.entryPoint).origin}`
  if (latest <= now) return fail(name, `${where}: every IdP signing certificate has expired (the last on ${latest.toISOString()})`, 'download fresh metadata from the IdP (it has rotated its key) and restart kagi serve')
  const days = Math.floor((latest.getTime() - now.getTime()) / DAY_MS)
  if (days < IDP_CERT_WARN_DAYS) return warn(name, `${where}: the IdP signing certificate expires in ${days} days`, 'ask the IdP administrator about its key rotation and refresh the metadata then')
  return ok(name, `${where}, ${settings.certificates.length} signing certificate${settings.certificates.length === 1 ? '' : 's'} valid ${days} more days`)
}
