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

/** An audit event, written in the same transaction as the change it records. */
export interface AuditEvent {
  /** Who acted: "token:<name>", "user:<email>", "cli". */
  actor: string
  action: 'certificate.issued' | 'certificate.revoked'
  /** The certificate serial the event is about. */
  serial: string
  details: Record<string, unknown>
}

/** Raised by a store when a serial already exists; the authority signs again with a new serial. */
export class SerialConflictError extends Error {}

/**
 * Stores what the authority signed (with its audit event, atomically) and
 * returns the caller's result; throws SerialConflictError when the serial
 * exists already, and the authority signs again. The core knows nothing of
 * users, devices or databases: src/use-cases/enroll.ts supplies this.
 */
export type PersistIssued<T> = (certificate: IssuedCertificate, audit: AuditEvent) => Promise<T>

/** The current time; injected so tests can pin it. */
export type Clock = () => Date
