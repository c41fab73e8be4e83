/**
 * The ChromeOS bundle: an Open Network Configuration file (.onc,
 * application/x-onc) carrying the CA certificates and the client identity.
 * Field names and rules from chromium components/onc/docs/onc_spec.md
 * ("Unencrypted Configuration", "Certificate type", "GUIDs and Updating",
 * "Detection").
 */
import { createHash } from 'node:crypto'
import { derToPem } from '../ca/der.js'
import type { BundleSettings, Credential } from './bundle-types.js'
import { credentialPkcs12, issuingAndRoot } from './bundle-common.js'

/** onc_spec "Certificate type": the fields kagi writes. */
export interface OncCertificate {
  GUID: string
  Type: 'Authority' | 'Client'
  /** Authority: the certificate in PEM (the spec's wording; Chrome also takes bare base64). */
  X509?: string
  /** Authority: ["Web"] = trusted to identify HTTPS servers. */
  TrustBits?: string[]
  /** Client: base64 of a PKCS#12 whose passphrase is empty. */
  PKCS12?: string
}

/** onc_spec "UnencryptedConfiguration type". */
export interface OncConfiguration {
  Type: 'UnencryptedConfiguration'
  Certificates: OncCertificate[]
  NetworkConfigurations: never[]
}

const fingerprint = (der: Buffer): string => createHash('sha256').update(der).digest('hex').slice(0, 16)

/**
 * GUIDs must be "stable and unique" and equal between ONC files that mean the
 * same entity (onc_spec "GUIDs and Updating"): a CA's GUID derives from its
 * certificate, so re-importing never duplicates it; the client's from the
 * device and certificate kind, so a re-enrolled device's new identity
 * replaces the old one.
 */
export const oncGuids = (credential: Credential, settings: BundleSettings): { root: string; issuing: string; client: string } => {
  const { issuing, root } = issuingAndRoot(credential.chain)
  return {
    root: `${settings.identifierPrefix}.root.${fingerprint(root)}`,
    issuing: `${settings.identifierPrefix}.issuing.${fingerprint(issuing)}`,
    client: `${settings.identifierPrefix}.client.${credential.kind}.${credential.deviceId}`,
  }
}

/**
 * Builds the ONC JSON. Both CAs get TrustBits ["Web"], the only trust bit
 * the spec defines and its value for "a typical web certificate authority",
 * so that ChromeOS treats the chain as trusted, as the other platforms do
 * with the root in the system trust store. The trade-off is the same there:
 * the organisation's CA could then vouch for HTTPS servers on this
 * Chromebook (it only ever issues client certificates). The client PKCS#12 has an
 * EMPTY passphrase, as the spec requires ("The passphrase of the PKCS#12
 * encoding must be empty"); the file itself is the secret. No network
 * configuration: GlobalProtect on ChromeOS is the Android app, which ONC
 * does not configure (reference §3.5).
 */
export function buildOnc(credential: Credential, settings: BundleSettings): Buffer {
  const { issuing, root } = issuingAndRoot(credential.chain)
  const guid = oncGuids(credential, settings)
  const config: OncConfiguration = {
    Type: 'UnencryptedConfiguration',
    Certificates: [
      { GUID: guid.root, Type: 'Authority', X509: derToPem(root, 'CERTIFICATE'), TrustBits: ['Web'] },
      { GUID: guid.issuing, Type: 'Authority', X509: derToPem(issuing, 'CERTIFICATE'), TrustBits: ['Web'] },
      { GUID: guid.client, Type: 'Client', PKCS12: credentialPkcs12(credential, settings, '', false).toString('base64') },
    ],
    NetworkConfigurations: [],
  }
  return Buffer.from(`${JSON.stringify(config, null, 2)}\n`, 'utf8')
}
