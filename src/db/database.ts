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
}

export interface AuditEventTable {
  id: Generated<string>
  at: Generated<Date>
  actor: string
  action: string
  serial: string | null
  details: ColumnType<Record<string, unknown>, string, string>
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
export type ServiceCredentialPurpose = 'ocsp-responder' | 'root-ocsp-responder' | 'profile-signer'

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

/** The schema as kysely sees it: table name → row type. */
export interface Database {
  ca_certificate: CaCertificateTable
  app_user: AppUserTable
  device: DeviceTable
  certificate: CertificateTable
  api_token: ApiTokenTable
  audit_event: AuditEventTable
  crl_current: CrlCurrentTable
  service_credential: ServiceCredentialTable
  saml_request: SamlRequestTable
  saml_assertion: SamlAssertionTable
  session_key: SessionKeyTable
  web_session: WebSessionTable
}

export type CertificateRow = Selectable<CertificateTable>
export type DeviceRow = Selectable<DeviceTable>
export type InsertableCertificate = Insertable<CertificateTable>
