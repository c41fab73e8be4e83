import type { ColumnType, Generated, Insertable, Selectable } from 'kysely'
import type { Platform } from '../../enrollment/bundle-types.js'

export type { Platform }

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>

export interface CaCertificateTable {
  id: Generated<number>
  role: 'root' | 'issuing'
  serial: string
  subject: string
  der: Buffer
  encrypted_key: string
  key_type: string
  not_after: Timestamp
  active: Generated<boolean>
  created_at: Generated<Date>
  /** The base URL its certificates name (migration 0018); null only until a CA created before it is adopted. */
  public_url: string | null
}

export interface AppUserTable {
  id: string
  email: string
  display_name: string | null
  created_at: Generated<Date>
}


export interface DeviceTable {
  id: string
  user_id: string
  name: string
  platform: Platform
  hostname: string | null
  serial_number: string | null
  match_key: string
  created_at: Generated<Date>
}

export interface CertificateTable {
  serial: string
  der: Buffer
  profile: string
  subject: string
  key_type: string
  user_id: string
  device_id: string | null
  issuer_serial: string
  not_before: Timestamp
  not_after: Timestamp
  status: Generated<'active' | 'revoked'>
  revoked_at: Timestamp | null
  revocation_reason: string | null
  issued_at: Generated<Date>
}

export interface ApiTokenTable {
  id: string
  name: string
  role: 'admin' | 'mdm'
  token_hash: string
  created_at: Generated<Date>
  revoked_at: Timestamp | null
  last_used_at: Timestamp | null
}

export interface AuditEventTable {
  id: Generated<string>
  at: Generated<Date>
  actor: string
  action: string
  serial: string | null
  details: ColumnType<Record<string, unknown>, string, string>
  /** The client's address, when the event comes from a request (sign-in). */
  client_ip: string | null
  /** Position in the hash chain (1, 2, …), set by the insert trigger (migration 0013). */
  seq: ColumnType<string, never, never>
  /** The previous event's hash (32 zero bytes for seq 1), set by the insert trigger. */
  prev_hash: ColumnType<Buffer, never, never>
  /** SHA-256 over prev_hash and the event's canonical encoding (src/db/audit-chain.ts), set by the insert trigger. */
  hash: ColumnType<Buffer, never, never>
}

/** The one-row head of the audit chain: the last event's seq and hash (0 and zeros before the first). */
export interface AuditChainHeadTable {
  id: ColumnType<boolean, never, never>
  seq: ColumnType<string, never, string | number>
  hash: ColumnType<Buffer, never, Buffer>
}

/** A chain head signed by the audit-signer credential (src/use-cases/audit-heads.ts). */
export interface AuditHeadTable {
  seq: ColumnType<string, string | number, never>
  hash: Buffer
  signature: Buffer
  signer_serial: string
  signed_at: Timestamp
}

export interface CrlCurrentTable {
  ca_serial: string
  crl_number: ColumnType<string, number | string, number | string>
  this_update: Timestamp
  next_update: Timestamp
  entries: number
  der: Buffer
}

/** What a service credential is for (see src/use-cases/service-credentials.ts). */
export type ServiceCredentialPurpose = 'ocsp-responder' | 'root-ocsp-responder' | 'profile-signer' | 'audit-signer' | 'scep-ra' | 'check-listener'

/** A certificate kagi issues to itself, with its key encrypted like the CA keys. */
export interface ServiceCredentialTable {
  purpose: ServiceCredentialPurpose
  serial: string
  ca_serial: string
  der: Buffer
  encrypted_key: string
  not_after: Timestamp
  created_at: Generated<Date>
}

export interface SamlRequestTable {
  id: string
  created_at: Generated<Date>
}

export interface SamlAssertionTable {
  id: string
  issuer: string
  expires_at: Timestamp
  consumed_at: Generated<Date>
}

export interface SessionKeyTable {
  id: number
  encrypted_key: string
  created_at: Generated<Date>
}

/** Why a session ended. */
export type SessionEndReason = 'logout' | 'idle' | 'expired' | 'key-rotated' | 'ended-by-admin' | 'signed-in-again'

export interface WebSessionTable {
  id: string
  email: string
  via: string
  admin: boolean
  ip: string | null
  user_agent: string | null
  created_at: Generated<Date>
  last_seen_at: Generated<Date>
  ended_at: Timestamp | null
  end_reason: SessionEndReason | null
}

/** A one-time SCEP challenge (migration 0017); only its hash is stored. */
export interface ScepChallengeTable {
  id: string
  challenge_hash: Buffer
  kind: 'record' | 'ndes'
  email: string | null
  /** The device of a `record` challenge, as the enrollment pipeline takes it ({ id } or { name, platform, hostname?, serialNumber? }). */
  device: ColumnType<Record<string, unknown> | null, string | null, string | null>
  profile: 'user' | 'device' | null
  token_id: string | null
  created_by: string
  created_at: Generated<Date>
  expires_at: Timestamp
  used_at: Timestamp | null
  serial: string | null
}

/** transactionID + requester key → the certificate issued for it (GetCertInitial, RFC 8894 §3.3.3). */
export interface ScepTransactionTable {
  transaction_id: string
  key_hash: Buffer
  serial: string
  created_at: Generated<Date>
}

/** The schema as kysely sees it: table name → row type. */
/** OCSP requests about one certificate, summed over replicas (migration 0019). */
export interface OcspCheckTable {
  serial: string
  /** bigint: pg returns it as a string. */
  checks: ColumnType<string, number | string, number | string>
  last_checked_at: ColumnType<Date, Date, Date>
}

export interface Database {
  ca_certificate: CaCertificateTable
  app_user: AppUserTable
  device: DeviceTable
  certificate: CertificateTable
  api_token: ApiTokenTable
  audit_event: AuditEventTable
  audit_chain_head: AuditChainHeadTable
  audit_head: AuditHeadTable
  crl_current: CrlCurrentTable
  service_credential: ServiceCredentialTable
  saml_request: SamlRequestTable
  saml_assertion: SamlAssertionTable
  session_key: SessionKeyTable
  web_session: WebSessionTable
  scep_challenge: ScepChallengeTable
  scep_transaction: ScepTransactionTable
  ocsp_check: OcspCheckTable
}

export type CertificateRow = Selectable<CertificateTable>
export type DeviceRow = Selectable<DeviceTable>
export type InsertableCertificate = Insertable<CertificateTable>
