import type { Kysely } from 'kysely'
import { z } from 'zod'
import {
  Authority,
  clientKeyTypes,
  derToPem,
  generateKey,
  isCertificateEmail,
  isHostname,
  spkiOf,
  verifyCsr,
  type ClientKeyType,
  type SubjectKey,
} from '../ca/index.js'
import { buildPkcs12 } from '../enrollment/pkcs12.js'
import { requestableProfiles } from '../profiles/index.js'
import type { Database } from './db/database.js'
import { platforms } from './db/database.js'
import { upsertDevice } from './db/device-repository.js'
import { badRequest } from './errors.js'
import { newPkcs12Password } from './password.js'
import { parseOrBadRequest } from './validation.js'

/** The body of POST /api/v1/certificates (and `kagi issue`). */
export const issueRequestSchema = z.strictObject({
  profile: z.enum(requestableProfiles, { error: `profile must be one of ${requestableProfiles.join(', ')}` }),
  user: z.string({ error: 'user (the employee email) is required' }).trim().min(3).max(254),
  device: z
    .strictObject({
      name: z.string().trim().min(1, 'device.name must not be empty').max(128),
      platform: z.enum(platforms, { error: `device.platform must be one of ${platforms.join(', ')}` }),
      hostname: z.string().trim().max(253).optional(),
      serialNumber: z.string().trim().min(1).max(128).optional(),
    })
    .optional(),
  csr: z.string().max(65_536, 'csr is too large').optional(),
  keyType: z.enum(clientKeyTypes, { error: `keyType must be one of ${clientKeyTypes.join(', ')}` }).optional(),
})

export type IssueRequestBody = z.infer<typeof issueRequestSchema>

/** What an issuance returns; `pkcs12` and its password only when kagi generated the key. */
export interface IssueResult {
  serial: string
  certificate: string
  chain: string
  deviceId?: string
  pkcs12?: string
  pkcs12Password?: string
}

/** Validates an issuance body, with a readable 400. */
export function parseIssueRequest(body: unknown): IssueRequestBody {
  return parseOrBadRequest(issueRequestSchema, body ?? {})
}

/** Dependencies of the issuance service. */
export interface IssuanceDeps {
  db: Kysely<Database>
  authority: Authority
  /** Issuing CA then root, PEM. */
  chainPem: string
  /** Issuing CA and root DER, for the PKCS#12. */
  chainDer: readonly Buffer[]
  caName: string
  /** Email → user id, creating the user on first use. */
  resolveUser: (email: string) => Promise<{ id: string; email: string }>
}

/**
 * Issues a user or device certificate: from the caller's CSR, or with a key
 * generated here and returned once inside a PKCS#12 (kagi keeps no copy).
 * The user is created on first use; the device is found or added to the
 * inventory. Names in the certificate come only from these records.
 */
export async function issueCertificate(deps: IssuanceDeps, request: IssueRequestBody, actor: string): Promise<IssueResult> {
  if (request.profile === 'device' && !request.device) throw badRequest('the device profile needs "device" with a name, platform and hostname', 'profile_violation')
  if (request.profile === 'device' && !request.device?.hostname) throw badRequest('the device profile requires device.hostname (it becomes the certificate CN and dNSName)', 'profile_violation')
  // Validate names before anything is written (the core checks them again when signing).
  if (!isCertificateEmail(request.user)) throw badRequest(`user "${request.user.slice(0, 80)}" is not an ASCII email address such as alice@example.com`, 'profile_violation')
  if (request.device?.hostname && !isHostname(request.device.hostname)) {
    throw badRequest(`device.hostname "${request.device.hostname.slice(0, 80)}" is not a DNS host name (letters, digits, hyphens, dots)`, 'profile_violation')
  }
  if (request.csr && request.keyType) throw badRequest('keyType applies only when kagi generates the key; omit it when sending a csr')
  // Check the CSR before writing anything: a bad request must not create records.
  const csrKey = request.csr ? verifyCsr(request.csr) : undefined
  const keyType: ClientKeyType = request.keyType ?? 'rsa-2048'
  const generated = csrKey ? undefined : await generateKey(keyType)
  const key: SubjectKey = csrKey ?? {
    publicKeyInfo: spkiOf(generated!.publicKey),
    keyAlgorithm: keyType.startsWith('rsa') ? 'rsa' : 'ec',
    keyDescription: keyType,
  }
  const user = await deps.resolveUser(request.user)
  const device = request.device ? await upsertDevice(deps.db, user.id, request.device) : undefined
  const issued = await deps.authority.issue({
    profile: request.profile,
    facts: { email: user.email, hostname: device?.hostname ?? undefined, deviceId: device?.id },
    key,
    owner: { userId: user.id, deviceId: device?.id },
    actor,
  })
  const result: IssueResult = { serial: issued.serial, certificate: derToPem(issued.der, 'CERTIFICATE'), chain: deps.chainPem }
  if (device) result.deviceId = device.id
  if (generated) {
    const password = newPkcs12Password()
    const pfx = buildPkcs12({
      privateKey: generated.privateKey,
      certificate: issued.der,
      chain: deps.chainDer,
      friendlyName: `${issued.subject} (${deps.caName})`,
      password,
    })
    result.pkcs12 = pfx.toString('base64')
    result.pkcs12Password = password
  }
  return result
}
