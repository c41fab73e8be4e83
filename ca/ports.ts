import type { LeafProfileId } from '../profiles/index.js'

/** A certificate as signed by the CA, before it is stored. */
export interface IssuedCertificate {
  /** Lowercase hex, no separators. */
  serial: string
  der: Buffer
  profile: LeafProfileId
  /** The subject common name (email or hostname). */
  subject: string
  notBefore: Date
  notAfter: Date
  /** e.g. "ecdsa-p256", "rsa-2048". */
  keyDescription: string
}

/** Who the certificate belongs to in kagi's records; opaque to the core. */
export interface CertificateOwner {
  userId: string
  deviceId?: string
}

/** An audit event, written in the same transaction as the change it records. */
export interface AuditEvent {
  /** Who acted: "token:<name>", "user:<email>", "cli". */
  actor: string
  action: 'certificate.issued' | 'certificate.revoked'
  /** The certificate serial the event is about. */
  serial: string
  details: Record<string, unknown>
}

/** Raised by a store when a serial already exists; the authority retries with a new one. */
export class SerialConflictError extends Error {}

/**
 * CertificateStore is the only storage the issuance pipeline needs
 * (src/db/certificate-store.ts implements it with kysely).
 */
export interface CertificateStore {
  /** Stores the certificate and its audit event atomically; throws SerialConflictError on a duplicate serial. */
  saveIssued(certificate: IssuedCertificate, owner: CertificateOwner, audit: AuditEvent): Promise<void>
}

/** The current time; injected so tests can pin it. */
export type Clock = () => Date
