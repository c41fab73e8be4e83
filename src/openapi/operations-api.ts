import { bundleContentTypes } from '../../enrollment/bundle.js'
import { auditListQuery, certificateListQuery, CSV_PAGE, JSON_PAGE, deviceListQuery, revokeDeviceBody, revokeUserBody, userListQuery, userParam } from '../schemas/admin.js'
import { issueBody, mdmProfileQuery, ownerBundleQuery } from '../schemas/enrollment.js'
import { revokeBody } from '../schemas/revocation.js'
import { exampleEmail, json, jsonBodyRefusals, refusals, type Operation } from './operation-types.js'
import * as shapes from './response-schemas.js'

/** The operations of /api/v1 for API tokens (certificates, users, devices, audit, MDM profiles), and the owner's download. */

const deviceId = '3f1c2b9e-8d4a-4c1e-9b7a-2a6f0e5d4c3b'
const serial = '5e0c1d7a9b3f4e2a8c6d0b1f3a5e7c9d'
const csv = 'text/csv'
const listDescription = `JSON, at most ${JSON_PAGE.max} rows a page (default ${JSON_PAGE.default}); CSV with format=csv or Accept: text/csv, at most ${CSV_PAGE.max.toLocaleString('en')} rows (default ${CSV_PAGE.default.toLocaleString('en')}).`

/** Every platform's bundle media type, for the downloads. */
const bundleContent = Object.fromEntries([...new Set(Object.values(bundleContentTypes))].map((type) => [type, 'binary' as const]))

/** Headers of a bundle download (src/routes/bundle-reply.ts). */
const bundleHeaders = {
  'Content-Disposition': 'attachment; filename="…" (.mobileconfig, .ps1, .onc or .zip)',
  'X-Kagi-Serial': 'The new certificate’s serial (absent for a SCEP profile, which issues nothing yet)',
  'X-Kagi-Pkcs12-Password': 'Android only: the one-time password of the PKCS#12 inside the ZIP',
} as const


const certificateOps: Operation[] = [
  {
    id: 'issueCertificate',
    method: 'POST',
    path: '/api/v1/certificates',
    tag: 'Certificates',
    summary: 'Issue a certificate',
    description:
      'With csr (PEM), kagi signs the caller’s key and answers the certificate and chain. Without csr kagi generates the key (RSA-2048 unless keyType says otherwise) and adds it as a PKCS#12 with a one-time password, or, with bundle, as the platform’s enrollment file. Names come from the body, never from the CSR. Users are created on first use; a device is found again by its serial number (or platform and name). Issuing for a device supersedes its previous certificate of that profile.',
    access: { kind: 'token', roles: ['admin', 'mdm'] },
    body: { content: json(issueBody), required: true },
    responses: {
      201: { description: 'Issued', content: json(shapes.issuedCertificate) },
      ...refusals('invalid_request', ...jsonBodyRefusals, 'profile_violation', 'csr_invalid', 'csr_signature_invalid', 'key_rejected', 'hostname_taken', 'enrollment_conflict'),
    },
    example: { body: { profile: 'user', user: exampleEmail, device: { name: 'Alice MacBook Pro', platform: 'macos', serialNumber: 'C02XK1ABJG5J' } } },
  },
  {
    id: 'listCertificates',
    method: 'GET',
    path: '/api/v1/certificates',
    tag: 'Certificates',
    summary: 'List certificates',
    description: `Filters: user, device (kagi device id or hardware serial number), status, expiringWithinDays. ${listDescription}`,
    access: { kind: 'token', roles: ['admin', 'mdm'] },
    query: certificateListQuery,
    responses: {
      200: { description: 'The page of certificates, newest first', content: { ...json(shapes.certificateList), [csv]: 'text' } },
      ...refusals('invalid_request'),
    },
    example: { query: { user: exampleEmail, status: 'active' } },
  },
  {
    id: 'getCertificate',
    method: 'GET',
    path: '/api/v1/certificates/{serial}',
    tag: 'Certificates',
    summary: 'Fetch one certificate, with its PEM',
    access: { kind: 'token', roles: ['admin', 'mdm'] },
    params: { serial: shapes.pathParams.serial },
    responses: {
      200: { description: 'The certificate', content: json(shapes.certificateDetailView) },
      ...refusals('invalid_serial', 'not_found'),
    },
    example: { params: { serial } },
  },
  {
    id: 'revokeCertificate',
    method: 'POST',
    path: '/api/v1/certificates/{serial}/revoke',
    tag: 'Certificates',
    summary: 'Revoke a certificate',
    description: 'The CRL and OCSP say revoked from now on. Revoking again keeps the first time and reason (alreadyRevoked: true).',
    access: { kind: 'token', roles: ['admin'] },
    params: { serial: shapes.pathParams.serial },
    body: { content: json(revokeBody), required: false },
    responses: {
      200: { description: 'Revoked', content: json(shapes.revokedCertificate) },
      ...refusals('invalid_request', ...jsonBodyRefusals, 'invalid_serial', 'not_found'),
    },
    example: { params: { serial }, body: { reason: 'keyCompromise' } },
  },
]

const userOps: Operation[] = [
  {
    id: 'listUsers',
    method: 'GET',
    path: '/api/v1/users',
    tag: 'Users',
    summary: 'Search users',
    description: `Users whose email or display name starts with q (case-insensitive), by email. ${listDescription}`,
    access: { kind: 'token', roles: ['admin'] },
    query: userListQuery,
    responses: { 200: { description: 'The page of users', content: { ...json(shapes.userList), [csv]: 'text' } }, ...refusals('invalid_request') },
    example: { query: { q: 'alice' } },
  },
  {
    id: 'getUser',
    method: 'GET',
    path: '/api/v1/users/{email}',
    tag: 'Users',
    summary: 'One user: devices, certificates and the last 50 sign-ins',
    access: { kind: 'token', roles: ['admin'] },
    params: { email: userParam },
    responses: { 200: { description: 'The user', content: json(shapes.userDetailView) }, ...refusals('invalid_request', 'not_found') },
    example: { params: { email: exampleEmail } },
  },
  {
    id: 'revokeUser',
    method: 'POST',
    path: '/api/v1/users/{email}/revoke',
    tag: 'Users',
    summary: 'Offboard a user',
    description: 'Revokes every active certificate of the user (reason affiliationChanged unless given) and ends their web sessions.',
    access: { kind: 'token', roles: ['admin'] },
    params: { email: userParam },
    body: { content: json(revokeUserBody), required: false },
    responses: { 200: { description: 'The serials revoked', content: json(shapes.revokedSerials) }, ...refusals('invalid_request', ...jsonBodyRefusals, 'not_found') },
    example: { params: { email: exampleEmail }, body: { reason: 'affiliationChanged' } },
  },
]

const deviceOps: Operation[] = [
  {
    id: 'listDevices',
    method: 'GET',
    path: '/api/v1/devices',
    tag: 'Devices',
    summary: 'Search devices',
    description: `Devices whose name, host name, hardware serial number, owner’s email or name, or a certificate serial (hex) starts with q; newest first. ${listDescription}`,
    access: { kind: 'token', roles: ['admin'] },
    query: deviceListQuery,
    responses: { 200: { description: 'The page of devices', content: { ...json(shapes.deviceList), [csv]: 'text' } }, ...refusals('invalid_request') },
    example: { query: { q: 'C02X', platform: 'macos' } },
  },
  {
    id: 'getDevice',
    method: 'GET',
    path: '/api/v1/devices/{id}',
    tag: 'Devices',
    summary: 'One device: certificates and audit history',
    access: { kind: 'token', roles: ['admin'] },
    params: { id: shapes.pathParams.deviceId },
    responses: { 200: { description: 'The device', content: json(shapes.deviceDetailView) }, ...refusals('not_found') },
    example: { params: { id: deviceId } },
  },
  {
    id: 'revokeDevice',
    method: 'POST',
    path: '/api/v1/devices/{id}/revoke',
    tag: 'Devices',
    summary: 'Revoke a lost or stolen device',
    description: 'Revokes the device’s active certificates (reason keyCompromise unless given).',
    access: { kind: 'token', roles: ['admin'] },
    params: { id: shapes.pathParams.deviceId },
    body: { content: json(revokeDeviceBody), required: false },
    responses: { 200: { description: 'The serials revoked', content: json(shapes.revokedSerials) }, ...refusals('invalid_request', ...jsonBodyRefusals, 'not_found') },
    example: { params: { id: deviceId }, body: { reason: 'keyCompromise' } },
  },
  {
    id: 'downloadOwnDeviceBundle',
    method: 'GET',
    path: '/api/v1/devices/{id}/bundle',
    tag: 'Devices',
    summary: 'The owner’s fresh bundle for one of their devices',
    description:
      'For the signed-in employee (session cookie), never for tokens: a new certificate and installable bundle for one of their own devices; the previous certificate of that profile is revoked as superseded. Refused for cross-site requests (Sec-Fetch-Site); at most 10 a minute per user.',
    access: { kind: 'session' },
    params: { id: shapes.pathParams.deviceId },
    query: ownerBundleQuery,
    responses: {
      200: { description: 'The bundle file', content: bundleContent, headers: bundleHeaders },
      ...refusals('invalid_request', 'profile_violation', 'not_found', 'hostname_taken', 'enrollment_conflict'),
      429: { description: 'Too many downloads: at most 10 a minute per user' },
    },
    example: { params: { id: deviceId }, query: { platform: 'macos' }, curl: ['-OJ'] },
  },
]

const auditOps: Operation[] = [
  {
    id: 'listAudit',
    method: 'GET',
    path: '/api/v1/audit',
    tag: 'Audit',
    summary: 'Audit events, newest first',
    description: `type is an action (certificate.revoked) or a prefix ending in a dot (certificate.); since and until are ISO 8601, until exclusive. ${listDescription}`,
    access: { kind: 'token', roles: ['admin'] },
    query: auditListQuery,
    responses: { 200: { description: 'The page of events', content: { ...json(shapes.auditList), [csv]: 'text' } }, ...refusals('invalid_request') },
    example: { query: { type: 'certificate.', since: '2026-05-01', limit: '50' } },
  },
]

const mdmOps: Operation[] = [
  {
    id: 'getMdmProfile',
    method: 'GET',
    path: '/api/v1/mdm/profiles/{platform}',
    tag: 'MDM',
    summary: 'The per-OS profile for a user’s device',
    description:
      'The bundle file itself. device is kagi’s device id or the hardware serial number (a new serial number adds the device to the inventory). While the device’s certificate of that profile has more than 30 days left the answer is 409 certificate_current, unless renew=true replaces it. With delivery=scep (macOS, iOS) the profile carries a SCEP payload and a one-time challenge instead of a key.',
    access: { kind: 'token', roles: ['mdm', 'admin'] },
    params: { platform: shapes.pathParams.platform },
    query: mdmProfileQuery,
    responses: {
      200: {
        description: 'The bundle file',
        content: bundleContent,
        headers: {
          ...bundleHeaders,
          'X-Kagi-Device-Id': 'kagi’s id of the device (with delivery=scep only when the device is already known)',
          'X-Kagi-Challenge-Expires': 'delivery=scep: when the challenge in the profile expires (ISO 8601)',
        },
      },
      ...refusals('invalid_request', 'bad_request', 'invalid_platform', 'profile_violation', 'scep_unavailable', 'certificate_current', 'hostname_taken', 'enrollment_conflict'),
    },
    example: { params: { platform: 'macos' }, query: { user: exampleEmail, device: 'C02XK1ABJG5J' }, curl: ['-OJ'] },
  },
]

export const apiOperations: readonly Operation[] = [...certificateOps, ...userOps, ...deviceOps, ...auditOps, ...mdmOps]
