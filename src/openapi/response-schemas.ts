import { z } from 'zod'
import { revocationReasons } from '../../ca/index.js'
import { platforms } from '../../enrollment/bundle-types.js'
import type { AuditEntry, CertificateSummary, DeviceSummary, SignInRecord, UserSummary } from '../db/admin-queries.js'
import type { ErrorBody } from '../errors.js'
import type { certificateView } from '../routes/api-v1-certificates.js'

/**
 * The JSON answers of kagi's API, as zod schemas for the OpenAPI document
 * (src/openapi/document.ts). The routes build their answers from database
 * rows, not from these, so each schema is checked twice: at compile time
 * against the TypeScript type the route returns (`satisfies`, dates as ISO
 * strings), and at run time against real answers (test/routes/openapi.test.ts).
 */

/** A value as JSON.stringify sends it: dates become ISO 8601 strings. */
export type Json<T> = T extends Date ? string : T extends readonly (infer U)[] ? Json<U>[] : T extends object ? { [K in keyof T]: Json<T[K]> } : T

/** A type that Json<T> must accept: the schema's output is assignable to what the route sends. */
type Describes<T> = z.ZodType<Json<T>>

const instant = z.iso.datetime().describe('ISO 8601 instant in UTC, e.g. 2026-05-01T09:00:00.000Z')
/** Bytes in JSON: base64 text (JSON Schema's contentEncoding, §8.3). */
const base64 = () => z.string().meta({ contentEncoding: 'base64' })
const serial = z.string().regex(/^[0-9a-f]+$/).describe('Certificate serial number: lowercase hexadecimal without separators')
const platform = z.enum(platforms)
const lastOcspCheckAt = instant.nullable().describe('"Last seen by the VPN": the last fresh OCSP check about the certificate (a firewall caches answers until nextUpdate)')
const ocspChecks = z.int().describe('How many fresh OCSP checks asked about it, summed over replicas')

/** `{ "error": { "code", "message" } }`: every refusal and failure (src/errors.ts). */
export const errorBody = z
  .object({
    error: z.object({
      code: z.string().describe('Stable error code that clients may branch on (the table in src/errors.ts), e.g. invalid_request, not_found; "internal" for a server error'),
      message: z.string().describe('What went wrong, for people; a field error names the field'),
    }),
  })
  .describe('An error: the code is a contract, the message is for people') satisfies z.ZodType<ErrorBody>

/** GET /healthz and GET /readyz. */
export const healthStatus = (status: 'ok' | 'ready') => z.object({ status: z.literal(status) })

const certificateDevice = z
  .object({ id: z.uuid(), name: z.string().nullable(), platform: platform.nullable(), hostname: z.string().nullable(), serialNumber: z.string().nullable() })
  .nullable()
  .describe('The device the certificate was issued for; null for a certificate without a device')

/** One certificate as GET /api/v1/certificates lists it (src/routes/api-v1-certificates.ts certificateView). */
export const certificateSummaryView = z.object({
  serial,
  profile: z.string().describe('Certificate profile: user or device'),
  subject: z.string().describe('The subject CN: the email (user) or host name (device)'),
  user: z.string().describe("The owner's email"),
  device: certificateDevice,
  keyType: z.string().describe('rsa-2048, ecdsa-p256, ...'),
  status: z.enum(['active', 'revoked', 'expired']),
  notBefore: instant,
  notAfter: instant,
  issuedAt: instant,
  revokedAt: instant.nullable(),
  revocationReason: z.string().nullable(),
  lastOcspCheckAt,
  ocspChecks,
}) satisfies z.ZodType<Json<ReturnType<typeof certificateView>>>

/** GET /api/v1/certificates/{serial}: the list's fields and the certificate itself. */
export const certificateDetailView = certificateSummaryView.extend({ certificate: z.string().describe('The certificate, PEM') })

/** GET /api/v1/certificates. */
export const certificateList = z.object({ certificates: z.array(certificateSummaryView), limit: z.int(), offset: z.int() })

/** 201 of POST /api/v1/certificates (src/routes/api-v1-certificates.ts). */
export const issuedCertificate = z.object({
  serial,
  certificate: z.string().describe('The certificate, PEM'),
  chain: z.string().describe('Issuing CA then root, PEM'),
  superseded: z.array(serial).describe('Serials of the certificates this issuance revoked as superseded (the device’s previous one of this profile)'),
  deviceId: z.uuid().optional().describe('kagi’s id of the device, when the request named one'),
  pkcs12: base64().optional().describe('Without csr and bundle: key, certificate and chain as PKCS#12 (3DES, SHA-1 MAC), base64; kagi keeps no copy'),
  pkcs12Password: z.string().optional().describe('The PKCS#12 password (random, shown once)'),
  bundle: z
    .object({
      platform,
      filename: z.string(),
      contentType: z.string(),
      data: base64().describe('The bundle file, base64'),
      pkcs12Password: z.string().optional().describe('Android only: the password of the PKCS#12 inside'),
    })
    .optional()
    .describe('With "bundle": the platform’s installable enrollment file'),
})

/** 200 of POST /api/v1/certificates/{serial}/revoke. */
export const revokedCertificate = z.object({
  serial,
  status: z.literal('revoked'),
  revokedAt: instant,
  reason: z.enum(revocationReasons),
  alreadyRevoked: z.boolean().describe('True when it was revoked before: the first time and reason are kept'),
})

/** 200 of the bulk revocations (a user, a device). */
export const revokedSerials = z.object({ revoked: z.array(serial).describe('The serials revoked now ([] when none was active)') })

/** 201 of POST /api/v1/scep/challenges. */
export const scepChallenge = z.object({
  challenge: z.string().describe('One-time SCEP challenge password (shown here only)'),
  expiresAt: instant,
})

const deviceSummary = z.object({
  id: z.uuid(),
  name: z.string(),
  platform,
  hostname: z.string().nullable(),
  serialNumber: z.string().nullable(),
  user: z.string().describe("The owner's email"),
  displayName: z.string().nullable().describe("The owner's name from the IdP"),
  activeCertificates: z.int(),
  createdAt: instant,
}) satisfies Describes<DeviceSummary>

const userSummary = z.object({
  email: z.string(),
  displayName: z.string().nullable(),
  devices: z.int(),
  activeCertificates: z.int(),
  createdAt: instant,
  lastSignIn: instant.nullable(),
}) satisfies Describes<UserSummary>

const certificateSummary = z.object({
  serial,
  profile: z.string(),
  status: z.enum(['active', 'revoked']),
  notBefore: instant,
  notAfter: instant,
  revokedAt: instant.nullable(),
  revocationReason: z.string().nullable(),
  deviceId: z.uuid().nullable(),
  deviceName: z.string().nullable(),
  platform: platform.nullable(),
  user: z.string(),
  issuedAt: instant,
  lastOcspCheckAt: lastOcspCheckAt,
  ocspChecks,
}) satisfies Describes<CertificateSummary>

const signIn = z.object({
  id: z.string(),
  via: z.string(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  createdAt: instant,
  lastSeenAt: instant,
  endedAt: instant.nullable(),
  endReason: z.string().nullable(),
}) satisfies Describes<SignInRecord>

const auditEntry = z.object({
  id: z.string(),
  at: instant,
  actor: z.string().describe('Who: token:<name>, user:<email> or kagi'),
  action: z.string().describe('What, e.g. certificate.issued, certificate.revoked'),
  serial: serial.nullable(),
  details: z.record(z.string(), z.unknown()),
}) satisfies Describes<AuditEntry>

const page = { total: z.int().describe('How many match in all'), limit: z.int(), offset: z.int() }

/** GET /api/v1/users. */
export const userList = z.object({ users: z.array(userSummary), ...page })
/** GET /api/v1/users/{email}. */
export const userDetailView = z.object({ user: userSummary, devices: z.array(deviceSummary), certificates: z.array(certificateSummary), signIns: z.array(signIn) })
/** GET /api/v1/devices. */
export const deviceList = z.object({ devices: z.array(deviceSummary), ...page })
/** GET /api/v1/devices/{id}. */
export const deviceDetailView = z.object({ device: deviceSummary, certificates: z.array(certificateSummary), history: z.array(auditEntry) })
/** GET /api/v1/audit. */
export const auditList = z.object({ events: z.array(auditEntry), ...page })

/** Path parameters the routes read without a schema of src/schemas (they check them in code). */
export const pathParams = {
  serial: z.string().regex(/^[0-9A-Fa-f:]+$/).describe('Certificate serial: hexadecimal as the API returns it (colons and upper case are accepted)'),
  deviceId: z.uuid().describe('kagi’s device id'),
  platform: z.enum(platforms),
  ocspRequest: z.string().describe('The DER OCSP request, base64 and URL-encoded (RFC 6960 Appendix A.1)'),
}
