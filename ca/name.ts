import { oid, seq, set, utf8 } from './der.js'
import { OID } from './oids.js'

/** A distinguished name as kagi writes it: common name, optional organization. */
export interface SimpleName {
  commonName: string
  organization?: string
}

/**
 * Encodes a Name (RFC 5280 §4.1.2.4) as an RDNSequence with one attribute per
 * RDN, organization first. Values are UTF8String, as RFC 5280 requires for
 * new certificates.
 */
export function encodeName(name: SimpleName): Buffer {
  const rdns: Buffer[] = []
  if (name.organization) rdns.push(set(seq(oid(OID.organizationName), utf8(name.organization))))
  rdns.push(set(seq(oid(OID.commonName), utf8(name.commonName))))
  return seq(...rdns)
}
