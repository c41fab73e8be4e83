import { createHash } from 'node:crypto'
import { bool, children, explicit, implicit, int, octets, oid, readOne, seq, tlv, Tag, utf8 } from './der.js'
import { OID } from './oids.js'

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } (RFC 5280 §4.1). */
export function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value))
}

/** basicConstraints (§4.2.1.9); always critical in kagi's CA certificates. */
export function basicConstraints(ca: boolean, pathLength?: number): Buffer {
  const parts: Buffer[] = []
  if (ca) parts.push(bool(true))
  if (ca && pathLength !== undefined) parts.push(int(pathLength))
  return extension(OID.basicConstraints, true, seq(...parts))
}

/** Named keyUsage bits (§4.2.1.3), in bit order. */
export const KeyUsageBit = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const

/** keyUsage, critical, as a DER BIT STRING with trailing zero bits removed (X.690 §11.2.2). */
export function keyUsage(bits: readonly number[]): Buffer {
  let value = 0
  for (const bit of bits) value |= 0x80 >> bit
  let unused = 0
  while (unused < 8 && (value & (1 << unused)) === 0) unused++
  return extension(OID.keyUsage, true, tlv(Tag.bitString, Buffer.from([unused, value])))
}

/** extKeyUsage (§4.2.1.12), non-critical so that older relying parties ignore it gracefully. */
export function extendedKeyUsage(purposes: readonly string[]): Buffer {
  return extension(OID.extKeyUsage, false, seq(...purposes.map((p) => oid(p))))
}

/** A GeneralName (§4.2.1.6). */
export type GeneralName =
  | { type: 'email'; value: string }
  | { type: 'dns'; value: string }
  | { type: 'uri'; value: string }
  | { type: 'upn'; value: string }

function generalName(name: GeneralName): Buffer {
  switch (name.type) {
    case 'email':
      return implicit(1, Buffer.from(name.value, 'ascii')) // rfc822Name [1] IA5String
    case 'dns':
      return implicit(2, Buffer.from(name.value, 'ascii')) // dNSName [2] IA5String
    case 'uri':
      return implicit(6, Buffer.from(name.value, 'ascii')) // uniformResourceIdentifier [6] IA5String
    case 'upn':
      // otherName [0] { type-id, [0] EXPLICIT UTF8String } (Microsoft UPN)
      return explicit(0, oid(OID.userPrincipalName), explicit(0, utf8(name.value)))
  }
}

/** subjectAltName; critical only when the subject is empty (§4.2.1.6), which kagi never issues. */
export function subjectAltName(names: readonly GeneralName[]): Buffer {
  return extension(OID.subjectAltName, false, seq(...names.map(generalName)))
}

/**
 * The key identifier of a SubjectPublicKeyInfo: SHA-1 of the subjectPublicKey
 * BIT STRING contents, method (1) of RFC 5280 §4.2.1.2.
 */
export function keyIdentifier(spki: Buffer): Buffer {
  const [, publicKey] = children(readOne(spki))
  if (!publicKey || publicKey.tag !== Tag.bitString) throw new Error('SubjectPublicKeyInfo without a BIT STRING')
  return createHash('sha1').update(publicKey.value.subarray(1)).digest()
}

export function subjectKeyIdentifier(id: Buffer): Buffer {
  return extension(OID.subjectKeyIdentifier, false, octets(id))
}

/** authorityKeyIdentifier with keyIdentifier only (§4.2.1.1). */
export function authorityKeyIdentifier(id: Buffer): Buffer {
  return extension(OID.authorityKeyIdentifier, false, seq(implicit(0, id)))
}

/** cRLDistributionPoints with one full-name URI (§4.2.1.13). */
export function crlDistributionPoint(url: string): Buffer {
  // DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames } }
  return extension(OID.crlDistributionPoints, false, seq(seq(explicit(0, explicit(0, implicit(6, Buffer.from(url, 'ascii')))))))
}

/** authorityInfoAccess with OCSP and caIssuers URIs (§4.2.2.1). */
export function authorityInfoAccess(ocspUrl: string, caIssuersUrl: string): Buffer {
  return extension(
    OID.authorityInfoAccess,
    false,
    seq(
      seq(oid(OID.ocsp), implicit(6, Buffer.from(ocspUrl, 'ascii'))),
      seq(oid(OID.caIssuers), implicit(6, Buffer.from(caIssuersUrl, 'ascii'))),
    ),
  )
}

/** id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): extension value is NULL. */
export function ocspNoCheck(): Buffer {
  return extension(OID.ocspNoCheck, false, Buffer.from([Tag.null, 0]))
}

