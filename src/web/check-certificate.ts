import { X509Certificate } from 'node:crypto'
import type { Kysely } from 'kysely'
import { normalizeSerial, type CertificateInfo } from '../../ca/index.js'
import { findCertificate } from '../db/certificate-query.js'
import type { Database, Platform } from '../db/database.js'

/** A kagi certificate the browser presented, as kagi's inventory describes it. */
export interface CheckedCertificate {
  serial: string
  email: string
  /** `user` (the employee's) or `device` (a machine certificate). */
  profile: 'user' | 'device'
  subject: string
  deviceName?: string
  devicePlatform?: Platform
  notAfter: Date
  revokedAt?: Date
}

/** What the check page says about the certificate a browser presented. */
export type CheckOutcome =
  | { kind: 'none' }
  /** Not signed by any of kagi's issuing CAs (the signature is checked, not only the issuer name). */
  | { kind: 'foreign'; issuer: string }
  /** Signed by kagi but not an employee's or a machine's certificate (not in the inventory). */
  | { kind: 'unknown' }
  | { kind: 'ready' | 'expired' | 'revoked' | 'superseded'; certificate: CheckedCertificate }

/**
 * Decides what a presented client certificate is: none, another CA's, or
 * one of kagi's and then its state in the inventory. The chain is checked
 * here and not by the TLS stack (the listener never rejects a handshake, so
 * that a wrong certificate gets an explanation rather than a browser error):
 * the certificate must name a kagi issuing CA as issuer AND carry a valid
 * signature by its key (RFC 5280 §6.1.3 (a)(1)), then its serial is looked up.
 */
export function certificateChecker(db: Kysely<Database>, issuers: readonly CertificateInfo[]): (der: Buffer | undefined, now?: Date) => Promise<CheckOutcome> {
  const cas = issuers.map((info) => new X509Certificate(info.der))
  return async (der, now = new Date()) => {
    if (!der || der.length === 0) return { kind: 'none' }
    let presented: X509Certificate
    try {
      presented = new X509Certificate(der)
    } catch {
      return { kind: 'foreign', issuer: '' }
    }
    const signedByKagi = cas.some((ca) => presented.checkIssued(ca) && presented.verify(ca.publicKey))
    if (!signedByKagi) return { kind: 'foreign', issuer: presented.issuer.replace(/\n/g, ', ') }
    const serial = normalizeSerial(presented.serialNumber)
    const row = serial ? await findCertificate(db, serial) : undefined
    if (!row || !Buffer.from(row.der).equals(presented.raw) || (row.profile !== 'user' && row.profile !== 'device')) return { kind: 'unknown' }
    const certificate: CheckedCertificate = {
      serial: row.serial,
      email: row.email,
      profile: row.profile,
      subject: row.subject,
      deviceName: row.device_name ?? undefined,
      devicePlatform: row.device_platform ?? undefined,
      notAfter: new Date(row.not_after),
      revokedAt: row.revoked_at ? new Date(row.revoked_at) : undefined,
    }
    // Enrollment revokes the previous certificate of a device with reason superseded (RFC 5280 §5.3.1).
    if (row.status === 'revoked') return { kind: row.revocation_reason === 'superseded' ? 'superseded' : 'revoked', certificate }
    if (certificate.notAfter <= now) return { kind: 'expired', certificate }
    return { kind: 'ready', certificate }
  }
}
