import { existsSync, readFileSync } from 'node:fs'
import { DOMParser } from '@xmldom/xmldom'
import type { SamlConfig } from '../config.js'
import { ConfigError } from '../config.js'

/** What kagi needs to know about the IdP. */
export interface IdpSettings {
  /** SAML 2.0 SSO URL (HTTP-Redirect binding). */
  entryPoint: string
  /** The IdP's signing certificates (PEM). Only these are trusted: never a certificate carried in a message. */
  certificates: string[]
  /** Expected Issuer; undefined when not known (then not checked). */
  issuer?: string
}

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata'
const DS = 'http://www.w3.org/2000/09/xmldsig#'
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect'

/** Base64 body or PEM text → PEM. */
export function toPem(text: string): string {
  const body = text.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '')
  if (!/^[A-Za-z0-9+/]+=*$/.test(body) || body.length < 100) throw new ConfigError('KAGI_SAML_IDP_CERT: not a PEM or base64 certificate, nor a readable file')
  return `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`
}

/**
 * Reads IdP metadata (SAML 2.0 Metadata §2.4.3, IDPSSODescriptor): the
 * entityID, the HTTP-Redirect SingleSignOnService and the signing keys, as
 * OneLogin's "SAML Metadata" download provides them.
 */
export function parseIdpMetadata(xml: string): IdpSettings {
  const doc = new DOMParser({ errorHandler: { warning: () => {}, error: () => {} } }).parseFromString(xml, 'text/xml')
  const entity = doc.getElementsByTagNameNS(MD, 'EntityDescriptor')[0]
  const idp = doc.getElementsByTagNameNS(MD, 'IDPSSODescriptor')[0]
  if (!entity || !idp) throw new ConfigError('KAGI_SAML_IDP_METADATA: no EntityDescriptor with an IDPSSODescriptor in the metadata')
  let entryPoint: string | undefined
  const services = idp.getElementsByTagNameNS(MD, 'SingleSignOnService')
  for (let i = 0; i < services.length; i++) {
    if (services[i]!.getAttribute('Binding') === REDIRECT) entryPoint ??= services[i]!.getAttribute('Location') ?? undefined
  }
  if (!entryPoint) throw new ConfigError('KAGI_SAML_IDP_METADATA: the IdP offers no HTTP-Redirect SingleSignOnService')
  const certificates: string[] = []
  const keys = idp.getElementsByTagNameNS(MD, 'KeyDescriptor')
  for (let i = 0; i < keys.length; i++) {
    const use = keys[i]!.getAttribute('use')
    if (use && use !== 'signing') continue
    const x509 = keys[i]!.getElementsByTagNameNS(DS, 'X509Certificate')
    for (let j = 0; j < x509.length; j++) certificates.push(toPem(x509[j]!.textContent ?? ''))
  }
  if (certificates.length === 0) throw new ConfigError('KAGI_SAML_IDP_METADATA: the metadata has no signing certificate')
  return { entryPoint, certificates: [...new Set(certificates)], issuer: entity.getAttribute('entityID') ?? undefined }
}

async function readSource(source: string): Promise<string> {
  if (/^https?:\/\//i.test(source)) {
    const response = await fetch(source, { signal: AbortSignal.timeout(10_000) }).catch((error: unknown) => {
      throw new ConfigError(`KAGI_SAML_IDP_METADATA: cannot fetch ${source}: ${(error as Error).message}`)
    })
    if (!response.ok) throw new ConfigError(`KAGI_SAML_IDP_METADATA: ${source} answered HTTP ${response.status}`)
    return response.text()
  }
  try {
    return readFileSync(source, 'utf8')
  } catch (error) {
    throw new ConfigError(`KAGI_SAML_IDP_METADATA: cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? error}`)
  }
}

/** The IdP settings from KAGI_SAML_IDP_METADATA, or from KAGI_SAML_ENTRY_POINT + KAGI_SAML_IDP_CERT. */
export async function resolveIdp(saml: SamlConfig): Promise<IdpSettings> {
  if (saml.idpMetadata) {
    const settings = parseIdpMetadata(await readSource(saml.idpMetadata))
    return saml.idpIssuer ? { ...settings, issuer: saml.idpIssuer } : settings
  }
  if (!saml.entryPoint || !saml.idpCert) throw new ConfigError('SAML is not configured: set KAGI_SAML_IDP_METADATA, or KAGI_SAML_ENTRY_POINT and KAGI_SAML_IDP_CERT')
  const certText = !saml.idpCert.includes('-----BEGIN') && existsSync(saml.idpCert) ? readFileSync(saml.idpCert, 'utf8') : saml.idpCert
  return { entryPoint: saml.entryPoint, certificates: [toPem(certText)], issuer: saml.idpIssuer }
}
