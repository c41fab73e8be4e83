import { bitString, explicit, int, seq, time, uint } from './der.js'
import { signOffLoop, type Signer } from './signer.js'

/** The parts of a certificate that differ between certificates. */
export interface CertificateFields {
  serial: Uint8Array
  /** DER Name of the issuer (the signing CA's subject). */
  issuer: Buffer
  /** DER Name of the subject. */
  subject: Buffer
  notBefore: Date
  notAfter: Date
  /** DER SubjectPublicKeyInfo of the subject key. */
  publicKeyInfo: Buffer
  /** DER Extension values (see extensions.ts). */
  extensions: readonly Buffer[]
}

/**
 * Builds and signs an X.509 v3 certificate (RFC 5280 §4.1).
 *
 * @asn
 * TBSCertificate ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, serialNumber, signature AlgorithmIdentifier,
 *   issuer Name, validity Validity, subject Name, subjectPublicKeyInfo, ..., extensions [3] EXPLICIT Extensions OPTIONAL }
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
 */
export function signCertificate(fields: CertificateFields, signer: Signer): Buffer {
  const tbs = tbsCertificate(fields, signer)
  return seq(tbs, signer.algorithm, bitString(signer.sign(tbs)))
}

/** {@link signCertificate} with the signature made off the event loop (Signer.signOffThread; a signer without it signs in place). */
export async function signCertificateOffThread(fields: CertificateFields, signer: Signer): Promise<Buffer> {
  const tbs = tbsCertificate(fields, signer)
  return seq(tbs, signer.algorithm, bitString(await signOffLoop(signer, tbs)))
}

function tbsCertificate(fields: CertificateFields, signer: Signer): Buffer {
  return seq(
    explicit(0, int(2)), // v3
    uint(fields.serial),
    signer.algorithm,
    fields.issuer,
    seq(time(fields.notBefore), time(fields.notAfter)),
    fields.subject,
    fields.publicKeyInfo,
    explicit(3, seq(...fields.extensions)),
  )
}
