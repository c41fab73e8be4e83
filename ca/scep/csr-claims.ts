import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import { OID } from '../oids.js'

/**
 * What a SCEP CSR says, read only to find kagi's own record: the
 * challengePassword (RFC 2985 §5.4.1, RFC 8894 §2.3) and the names it
 * claims. None of these ever reaches a certificate: kagi builds subject and
 * SANs from its records (profiles/).
 */
export interface CsrClaims {
  challengePassword?: string
  commonName?: string
  /** rfc822Name SANs and the emailAddress subject attribute. */
  emails: string[]
  /** userPrincipalName otherName SANs (Windows, Intune, the GlobalProtect portal's $UPN). */
  principalNames: string[]
  dnsNames: string[]
}

const EMAIL_ADDRESS = '1.2.840.113549.1.9.1'

function directoryString(value: unknown): string | undefined {
  if (value instanceof asn1js.PrintableString || value instanceof asn1js.Utf8String || value instanceof asn1js.IA5String || value instanceof asn1js.BmpString || value instanceof asn1js.TeletexString) {
    return value.valueBlock.value
  }
  return undefined
}

/** Reads the claims of a DER CSR whose signature the caller has verified (ca/csr.ts). Unreadable parts are left out. */
export function csrClaims(der: Buffer): CsrClaims {
  const claims: CsrClaims = { emails: [], principalNames: [], dnsNames: [] }
  let request: pkijs.CertificationRequest
  try {
    request = pkijs.CertificationRequest.fromBER(new Uint8Array(der))
  } catch {
    return claims
  }
  for (const rdn of request.subject.typesAndValues) {
    const text = directoryString(rdn.value)
    if (text === undefined) continue
    if (rdn.type === OID.commonName) claims.commonName ??= text
    if (rdn.type === EMAIL_ADDRESS) claims.emails.push(text)
  }
  for (const attribute of request.attributes ?? []) {
    if (attribute.type === OID.challengePassword) claims.challengePassword = directoryString(attribute.values[0])
    if (attribute.type !== OID.extensionRequest) continue
    try {
      const extensions = new pkijs.Extensions({ schema: attribute.values[0] })
      for (const extension of extensions.extensions) {
        if (extension.extnID !== OID.subjectAltName || !(extension.parsedValue instanceof pkijs.AltName)) continue
        for (const name of extension.parsedValue.altNames) {
          if (name.type === 1 && typeof name.value === 'string') claims.emails.push(name.value)
          if (name.type === 2 && typeof name.value === 'string') claims.dnsNames.push(name.value)
          if (name.type === 0) {
            const other = name.value as { valueBlock?: { value?: asn1js.AsnType[] } }
            const [typeId, wrapped] = other.valueBlock?.value ?? []
            if (typeId instanceof asn1js.ObjectIdentifier && typeId.valueBlock.toString() === OID.userPrincipalName) {
              const inner = (wrapped as { valueBlock?: { value?: unknown[] } } | undefined)?.valueBlock?.value?.[0]
              const upn = directoryString(inner)
              if (upn) claims.principalNames.push(upn)
            }
          }
        }
      }
    } catch {
      // An extension request kagi cannot read claims nothing.
    }
  }
  return claims
}
