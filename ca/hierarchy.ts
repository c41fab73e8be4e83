import type { KeyObject } from 'node:crypto'
import { issuingCaProfile, rootCaProfile, type CaProfile } from '../profiles/index.js'
import { signCertificate } from './certificate.js'
import { certificateInfo, type CertificateInfo } from './certificate-info.js'
import {
  authorityInfoAccess,
  authorityKeyIdentifier,
  basicConstraints,
  crlDistributionPoint,
  keyIdentifier,
  keyUsage,
  KeyUsageBit,
  subjectKeyIdentifier,
} from './extensions.js'
import { generateKey, spkiOf, type CaKeyType } from './keys.js'
import { encodeName } from './name.js'
import { newSerial } from './serial.js'
import { softwareSigner } from './signer.js'

/** A CA certificate with its private key (in memory only; stored encrypted by the caller). */
export interface CaKeyPair {
  certificate: CertificateInfo
  privateKey: KeyObject
}

/** Options for creating kagi's two-tier hierarchy. */
export interface HierarchyOptions {
  /** Organization and common-name prefix, e.g. "Example Corp" → "Example Corp Root CA". */
  name: string
  keyType: CaKeyType
  /** Base URL written into the issuing CA's CRL distribution point and AIA. */
  publicUrl: string
  /** Defaults to the current time. */
  now?: Date
}

const DAY = 86_400_000

function caCertificate(
  profile: CaProfile,
  options: HierarchyOptions,
  subjectKey: KeyObject,
  issuer: { certificate?: CertificateInfo; privateKey: KeyObject },
): Buffer {
  const now = options.now ?? new Date()
  const spki = spkiOf(subjectKey)
  const ski = keyIdentifier(spki)
  const subject = encodeName({ organization: options.name, commonName: `${options.name} ${profile.commonNameSuffix}` })
  const issuerCert = issuer.certificate
  const extensions = [
    basicConstraints(true, profile.pathLength),
    keyUsage([KeyUsageBit.keyCertSign, KeyUsageBit.cRLSign]),
    subjectKeyIdentifier(ski),
    authorityKeyIdentifier(issuerCert?.subjectKeyId ?? ski),
  ]
  if (issuerCert) {
    // The issuing CA points at the root's CRL and certificate (RFC 5280 §4.2.1.13, §4.2.2.1),
    // so a relying party can check that the intermediate itself is not revoked.
    extensions.push(crlDistributionPoint(`${options.publicUrl}/pki/root.crl`))
    extensions.push(authorityInfoAccess(`${options.publicUrl}/ocsp`, `${options.publicUrl}/pki/root.crt`))
  }
  let notAfter = new Date(now.getTime() + profile.validityDays * DAY)
  if (issuerCert && notAfter > issuerCert.notAfter) notAfter = issuerCert.notAfter
  return signCertificate(
    {
      serial: newSerial(),
      issuer: issuerCert?.subject ?? subject,
      subject,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter,
      publicKeyInfo: spki,
      extensions,
    },
    softwareSigner(issuer.privateKey),
  )
}

/**
 * Creates a root CA (self-signed, pathLen 1) and an issuing CA signed by it
 * (pathLen 0). Both carry basicConstraints CA:TRUE and keyUsage
 * keyCertSign + cRLSign, critical, with SKI and AKI (RFC 5280 §4.2.1).
 */
export async function createHierarchy(options: HierarchyOptions): Promise<{ root: CaKeyPair; issuing: CaKeyPair }> {
  const [rootKeys, issuingKeys] = await Promise.all([generateKey(options.keyType), generateKey(options.keyType)])
  const rootDer = caCertificate(rootCaProfile, options, rootKeys.publicKey, { privateKey: rootKeys.privateKey })
  const root = { certificate: certificateInfo(rootDer), privateKey: rootKeys.privateKey }
  const issuingDer = caCertificate(issuingCaProfile, options, issuingKeys.publicKey, root)
  return { root, issuing: { certificate: certificateInfo(issuingDer), privateKey: issuingKeys.privateKey } }
}
