import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { certificateInfo, type CertificateInfo } from './certificate-info.js'
import { checkKeyPolicy } from './csr.js'
import { pemToDer } from './der.js'
import { CaError } from './errors.js'
import type { CaKeyType } from './keys.js'
import { x509lib } from './x509-lib.js'

/** What `kagi ca import` is given: PEM text, as read from the files. */
export interface CaImportInput {
  /** The issuing CA certificate first, then its chain up to a self-signed root. */
  certPem: string
  /** The issuing CA's private key (PKCS#8 or traditional PEM, possibly encrypted). */
  keyPem: string
  keyPassphrase?: string
  /** The root, when it is not appended to `certPem`. */
  rootPem?: string
}

/** An existing CA that kagi can adopt. */
export interface ValidatedCaImport {
  root: CertificateInfo
  issuing: CertificateInfo
  /** The issuing CA's key (decrypted). */
  key: KeyObject
  keyType: CaKeyType
  /** The issuing CA is self-signed, so it is its own root and `key` is the root key too. */
  rootIsIssuing: boolean
}

function splitPem(text: string): Buffer[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
  return blocks.map((block) => pemToDer(block, 'CERTIFICATE'))
}

/** The key types kagi signs with (KAGI_CA_KEY_TYPE); checkKeyPolicy also admits client-only sizes. */
function caKeyTypeOf(key: KeyObject): CaKeyType {
  const d = checkKeyPolicy(key)
  if (d === 'ecdsa-p256' || d === 'ecdsa-p384' || d === 'rsa-3072' || d === 'rsa-4096') return d
  throw new CaError('ca_import_invalid', `the CA key is ${d}; kagi signs with ecdsa-p256, ecdsa-p384, rsa-3072 or rsa-4096`)
}

/**
 * Checks that a CA can be adopted as kagi's issuing CA, and throws
 * ca_import_invalid saying what is wrong otherwise: the certificate is a
 * currently valid CA (RFC 5280 §4.2.1.9 basicConstraints), the key is of a
 * type kagi signs with and belongs to it, and the chain holds a self-signed
 * root that signed the issuing CA directly (or the issuing CA is that root).
 */
export async function validateCaImport(input: CaImportInput, now = new Date()): Promise<ValidatedCaImport> {
  const certs = [...splitPem(input.certPem), ...(input.rootPem ? splitPem(input.rootPem) : [])]
  if (certs.length === 0) throw new CaError('ca_import_invalid', 'no PEM certificate found in --cert')
  const issuing = certificateInfo(certs[0]!)
  if (!issuing.isCa) throw new CaError('ca_import_invalid', 'the certificate is not a CA (basicConstraints CA:TRUE is missing); PAN-OS would not trust it')
  if (issuing.notAfter <= now) throw new CaError('ca_import_invalid', `the CA certificate expired on ${issuing.notAfter.toISOString()}`)
  let key: KeyObject
  try {
    key = createPrivateKey({ key: input.keyPem, format: 'pem', passphrase: input.keyPassphrase })
  } catch {
    throw new CaError('ca_import_invalid', 'the private key could not be read (PEM expected; pass --key-passphrase-file for an encrypted key)')
  }
  const keyType = caKeyTypeOf(key)
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' }) as Buffer
  if (!spki.equals(issuing.publicKeyInfo)) throw new CaError('ca_import_invalid', 'the private key does not belong to the CA certificate')
  const x509 = await x509lib()
  const parsed = certs.map((der) => new x509.X509Certificate(new Uint8Array(der)))
  const rootIndex = parsed.findIndex((c) => c.subject === c.issuer)
  if (rootIndex < 0) throw new CaError('ca_import_invalid', 'the chain has no self-signed root; append the root certificate to --cert or pass --root')
  // kagi keeps two tiers (root → issuing): the issuing CA must be the root itself or signed by it,
  // or the chain it serves (/pki/chain.pem, PKCS#12 bundles) would miss an intermediate.
  const issuingCert = parsed[0]!
  const rootCert = parsed[rootIndex]!
  if (issuingCert.issuer !== rootCert.subject) {
    throw new CaError('ca_import_invalid', `the issuing CA must be signed directly by the root; "${issuingCert.issuer}" is not the self-signed root in the chain (kagi keeps a two-tier hierarchy)`)
  }
  if (!(await issuingCert.verify({ publicKey: rootCert.publicKey, signatureOnly: true }))) {
    throw new CaError('ca_import_invalid', `the signature on "${issuingCert.subject}" does not verify with "${rootCert.subject}"`)
  }
  return { root: certificateInfo(certs[rootIndex]!), issuing, key, keyType, rootIsIssuing: rootIndex === 0 }
}
