import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import { clientKeyTypes, derToPem, generateKey, spkiOf, type IssuedCertificate, type SubjectKey } from '../../ca/index.js'
import { buildBundle } from '../../enrollment/bundle.js'
import { platforms, type Bundle, type BundleSettings, type Credential, type Platform } from '../../enrollment/bundle-types.js'
import { newPkcs12Password } from '../../enrollment/password.js'
import { credentialPkcs12 } from '../../enrollment/bundle-common.js'
import { activeCertificatesOf, activeHoldersOfHostname } from '../db/certificate-query.js'
import type { DeviceRow } from '../db/database.js'
import { deviceMatchKey, findDeviceByMatchKey, findDeviceNamed, findOwnedDevice, isDeviceId } from '../db/device-repository.js'
import { ActiveConflictError, DeviceConflictError, type AuditRow, type EnrollmentRecord, type NewDevice } from '../db/enrollment-store.js'
import { ApiError, badRequest, notFound } from '../errors.js'
import { deviceNameField, emailField, hostnameField, platformField, profileField, serialNumberField } from '../schemas/identity.js'
import type { IssueBody } from '../schemas/enrollment.js'
import { parseOrBadRequest } from '../schemas/parse.js'
import { pathOf } from '../metrics.js'
import type { KagiServices } from '../startup/services.js'
import { bundleSettings } from './bundle-settings.js'
import { announceRevocations } from './revoke.js'

/** A certificate counts as near expiry, and an MDM may replace it without renew=true, when less than this is left. */
export const RENEW_WITHIN_MS = 30 * 86_400_000

/** Concurrent enrollments of one device are retried this often before a 409. */
const MAX_ATTEMPTS = 3

/**
 * Who asks, and what they may do: `self-service` (an employee on the page or
 * downloading for their own device), `mdm` (an MDM token), `admin` (an admin
 * token or the CLI; may reassign a host name another user holds).
 */
/** Who asks: a label for the audit log, a role for what it may do, and the client's address (audited; none from the CLI). */
const actorSchema = z.object({ label: z.string().min(1).max(300), role: z.enum(['self-service', 'mdm', 'admin']), clientIp: z.string().max(64).optional() })

/**
 * One enrollment request, whatever the path (page, API, MDM, owner download,
 * CLI). Every string goes through the field schemas again here, so nothing
 * reaches a certificate, a bundle or the database unchecked, even from a
 * caller that skipped its transport schema.
 */
export const enrollRequestSchema = z.object({
  actor: actorSchema,
  email: emailField('user'),
  profile: profileField('profile'),
  /** An existing device by kagi id, or a device by its facts (found by serial number or name, else created). */
  device: z
    .union([
      z.strictObject({ id: z.string().refine(isDeviceId, 'device must be a kagi device id'), platform: platformField('platform').optional(), hostname: hostnameField('hostname').optional() }),
      z.strictObject({
        name: deviceNameField('device.name'),
        platform: platformField('device.platform'),
        hostname: hostnameField('device.hostname').optional(),
        serialNumber: serialNumberField('device.serialNumber').optional(),
      }),
    ])
    .optional(),
  /** The caller's CSR (RFC 2986), or a key kagi generates and returns once, in the PKCS#12 or bundle. */
  key: z.union([z.strictObject({ csr: z.string().max(65_536, 'csr is too large') }), z.strictObject({ generate: z.enum(clientKeyTypes) })]),
  deliver: z.discriminatedUnion('as', [
    z.strictObject({ as: z.literal('certificate') }),
    z.strictObject({ as: z.literal('pkcs12') }),
    z.strictObject({
      as: z.literal('bundle'),
      platform: z.enum(platforms),
      signed: z.boolean(),
      /** MDM-delivered macOS profiles only (enrollment/bundle-types.ts ManagedMacOptions). */
      managed: z.strictObject({ systemExtension: z.boolean(), allowAllAppsAccess: z.boolean() }).optional(),
    }),
  ]),
  /**
   * The device's current certificate of this profile: `supersede` revokes it
   * (reason superseded) in the same transaction; `keep-unless-near-expiry`
   * answers 409 certificate_current while it has more than 30 days left.
   */
  current: z.enum(['supersede', 'keep-unless-near-expiry']),
  /** The page: refuse a device name the user already uses (409 device_name_in_use: renew that device instead). */
  uniqueDeviceName: z.boolean().optional(),
  /**
   * A SCEP enrollment (scep-operation.ts): the challenge it spends (in the storing
   * transaction), its transactionID and requester key (for GetCertInitial),
   * and for a RenewalReq the certificate it renews, superseded.
   */
  scep: z
    .strictObject({
      challengeId: z.uuid().optional(),
      transactionId: z.string().min(1).max(256),
      keyHash: z.custom<Buffer>((value) => Buffer.isBuffer(value) && value.length === 32, 'keyHash must be a SHA-256'),
      replaces: z.string().regex(/^[0-9a-f]{1,64}$/).optional(),
    })
    .optional(),
})

export type EnrollRequest = z.input<typeof enrollRequestSchema>
type Request = z.output<typeof enrollRequestSchema>

/** What an enrollment returns; `pkcs12` or `bundle` only when asked for (they hold the only copy of the key). */
export interface Enrollment {
  serial: string
  certificatePem: string
  chainPem: string
  deviceId?: string
  /** Serials revoked as superseded by this enrollment. */
  superseded: string[]
  pkcs12?: { der: Buffer; password: string }
  bundle?: Bundle
}

export type EnrollServices = Pick<KagiServices, 'db' | 'authority' | 'enrollments' | 'findUserId' | 'config' | 'profileSigner' | 'chainPem' | 'chainDer' | 'onRevoked' | 'siblings' | 'crl' | 'metrics' | 'keyPool' | 'verifyCsr'>

/** The device an enrollment is for, as read before anything is written. */
interface ResolvedDevice {
  id: string
  name: string
  platform: Platform
  hostname?: string
  create?: NewDevice
  update?: { name?: string; platform?: Platform; hostname?: string }
}

/**
 * Enrolls: the one pipeline every issuing path calls. Its order is fixed:
 * validate every input (fields, combinations, policy, ownership, the host
 * name's holder, the current certificate) → prepare what can fail (the
 * key, the bundle settings) → sign → package (PKCS#12, bundle) → store user,
 * device, certificate, superseded revocations and audit events in one
 * transaction → return. A refused request writes nothing; a failure before
 * the commit leaves nothing behind. Invariant: at most one active
 * certificate per (device, profile).
 */
export async function enroll(services: EnrollServices, input: EnrollRequest): Promise<Enrollment> {
  const request = parseOrBadRequest(enrollRequestSchema, input)
  checkCombination(request)
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptEnrollment(services, request)
    } catch (error) {
      if (!(error instanceof DeviceConflictError || error instanceof ActiveConflictError)) throw error
      if (attempt >= MAX_ATTEMPTS) throw new ApiError('enrollment_conflict', 'other enrollments of this device are in progress; try again in a moment')
    }
  }
}

/** The enrollment a POST /api/v1/certificates body (or `kagi issue`) asks for: a device's previous certificate is superseded. */
export function issueEnrollment(body: IssueBody, actor: EnrollRequest['actor']): EnrollRequest {
  if (body.csr && body.keyType) throw badRequest('keyType applies only when kagi generates the key; omit it when sending a csr')
  if (body.signed !== undefined && !body.bundle) throw badRequest('signed applies only with bundle')
  return {
    actor,
    email: body.user,
    profile: body.profile,
    device: body.device,
    key: body.csr ? { csr: body.csr } : { generate: body.keyType ?? 'rsa-2048' },
    deliver: body.bundle ? { as: 'bundle', platform: body.bundle, signed: body.signed ?? true } : body.csr ? { as: 'certificate' } : { as: 'pkcs12' },
    current: 'supersede',
  }
}

/**
 * The device an MDM or `kagi bundle` names by kagi's device id or by its
 * hardware serial number (a new serial number adds the device, under `name`
 * or "<platform> <serial>").
 */
export function deviceByIdOrSerial(ref: string, platform: Platform, hostname: string | undefined, name?: string): NonNullable<EnrollRequest['device']> {
  if (isDeviceId(ref)) return { id: ref, platform, hostname }
  return { name: name ?? `${platform} ${ref}`.slice(0, 128), platform, serialNumber: ref, hostname }
}

/** Rules between fields, which no single field schema can see. */
function checkCombination(request: Request): void {
  const { profile, device, key, deliver } = request
  if (profile === 'device' && !device) throw badRequest('the device profile needs "device" with a name, platform and hostname', 'profile_violation')
  if ('csr' in key && deliver.as !== 'certificate') throw badRequest('a bundle or PKCS#12 carries a key that kagi generates: omit csr, or omit bundle to get only the certificate')
  if ('generate' in key && deliver.as === 'certificate') throw badRequest('without a csr kagi generates the key and returns it in a PKCS#12 or a bundle')
  if (deliver.as === 'bundle' && !device) throw badRequest('a bundle installs on a device: give "device" with its name and platform')
}

async function attemptEnrollment(services: EnrollServices, request: Request): Promise<Enrollment> {
  const now = new Date()
  // 1. Validate against what is stored (reads only).
  const userId = await services.findUserId(request.email)
  const device = request.device ? await resolveDevice(services, userId, request) : undefined
  const hostname = device?.hostname
  if (request.profile === 'device' && !hostname) {
    throw badRequest('the device profile requires device.hostname (it becomes the certificate CN and dNSName)', 'profile_violation')
  }
  // Checked once the device is known: a new one's platform comes from the request, an existing one's from the inventory.
  if (device && request.deliver.as === 'bundle' && device.platform !== request.deliver.platform) {
    throw badRequest(`bundle ${request.deliver.platform} does not match the device's platform ${device.platform}`)
  }
  // The domain policy applies to a name that goes into a certificate or the inventory now, not to an
  // unchanged name on file when only the user certificate is renewed.
  const newHostname = request.device?.hostname !== undefined
  if (hostname && (request.profile === 'device' || newHostname)) checkHostnameSuffix(services.config.deviceHostnameSuffixes, hostname)
  const reassigned = request.profile === 'device' ? await othersHoldingHostname(services, request, userId, hostname!, now) : []
  if (device && !device.create && request.current === 'keep-unless-near-expiry') await refuseWhileCurrent(services, device.id, request.profile, now)

  // 2. Prepare what can fail, before anything is signed.
  let generated: Awaited<ReturnType<typeof generateKey>> | undefined
  let key: SubjectKey
  if ('generate' in request.key) {
    const keyType = request.key.generate
    // RSA-2048 comes from the pool of keys generated ahead (each handed out once), ECDSA is fast enough to generate now.
    generated = keyType === 'rsa-2048' ? await services.keyPool.take() : await generateKey(keyType)
    key = { publicKeyInfo: spkiOf(generated.publicKey), keyAlgorithm: keyType.startsWith('rsa') ? 'rsa' : 'ec', keyDescription: keyType }
  } else key = await services.verifyCsr(request.key.csr)
  const settings = request.deliver.as === 'bundle' ? await bundleSettings(services, request.deliver.signed) : undefined

  // 3–5. Sign, package, store in one transaction (the authority signs again on a serial collision).
  const newUserId = randomUUID()
  const enrollment = await services.authority.issue(
    { profile: request.profile, facts: { email: request.email, hostname: device?.hostname, deviceId: device?.id }, key, actor: request.actor.label },
    async (issued, issuedEvent) => {
      const packaged = generated ? packageCredential(services, request, issued, generated.privateKey, device, settings) : {}
      const audit: AuditRow[] = [issuedEvent]
      if (reassigned.length > 0) {
        audit.push({
          actor: request.actor.label,
          action: 'device.hostname-reassigned',
          serial: issued.serial,
          details: { hostname, to: request.email, from: [...new Set(reassigned.map((r) => r.email))], superseded: reassigned.map((r) => r.serial) },
        })
      }
      const record: EnrollmentRecord = {
        user: { email: request.email, userId, newUserId },
        device: device && { id: device.id, create: device.create, update: device.update },
        certificate: issued,
        supersedeProfileOfDevice: device !== undefined,
        alsoSupersede: [...reassigned.map((r) => r.serial), ...(request.scep?.replaces ? [request.scep.replaces] : [])],
        audit,
        clientIp: request.actor.clientIp,
        scep: request.scep && { challengeId: request.scep.challengeId, transactionId: request.scep.transactionId, keyHash: request.scep.keyHash },
      }
      const stored = await services.enrollments.save(record)
      if (!userId) services.findUserId.remember(request.email, stored.userId)
      return { issued, stored, packaged }
    },
  )
  await announceRevocations(services, enrollment.stored.superseded)
  services.metrics.certificateIssued({ profile: request.profile, platform: device?.platform, path: pathOf(request.actor.label, request.actor.role) })
  return {
    serial: enrollment.issued.serial,
    certificatePem: derToPem(enrollment.issued.der, 'CERTIFICATE'),
    chainPem: services.chainPem,
    deviceId: device?.id,
    superseded: enrollment.stored.superseded,
    ...enrollment.packaged,
  }
}

/** Finds the device (owned by this user) or describes the one to create; nothing is written here. */
async function resolveDevice(services: EnrollServices, userId: string | undefined, request: Request): Promise<ResolvedDevice> {
  const choice = request.device!
  if ('id' in choice) {
    const row = userId ? await findOwnedDevice(services.db, userId, choice.id) : undefined
    if (!row) throw notFound(`no device ${choice.id} belongs to ${request.email}`)
    if (choice.platform && choice.platform !== row.platform) throw badRequest(`device ${row.id} is a ${row.platform} device, not ${choice.platform}`)
    return existing(row, choice.hostname)
  }
  const matchKey = deviceMatchKey(choice)
  // The page: a name the user already gives a device is that device; renewing it is "Download again".
  if (request.uniqueDeviceName && userId) {
    const named = await findDeviceNamed(services.db, userId, choice.name)
    if (named) {
      throw new ApiError('device_name_in_use', `you already have a device named "${named.name}": use "Download again" on that device to renew it, or choose another name`)
    }
  }
  const row = userId ? await findDeviceByMatchKey(services.db, userId, matchKey) : undefined
  if (row) {
    if (row.platform !== choice.platform) throw badRequest(`device ${row.id} (serial number ${choice.serialNumber}) is a ${row.platform} device, not ${choice.platform}`)
    const found = existing(row, choice.hostname)
    if (row.name !== choice.name && !choice.serialNumber) found.update = { ...found.update, name: choice.name }
    return found
  }
  const id = randomUUID()
  const create: NewDevice = { id, name: choice.name, platform: choice.platform, hostname: choice.hostname ?? null, serialNumber: choice.serialNumber ?? null, matchKey }
  return { id, name: choice.name, platform: choice.platform, hostname: choice.hostname, create }
}

/** An existing device, with its host name replaced when the request gives a new one. */
function existing(row: DeviceRow, hostname: string | undefined): ResolvedDevice {
  const device: ResolvedDevice = { id: row.id, name: row.name, platform: row.platform, hostname: hostname ?? row.hostname ?? undefined }
  if (hostname && hostname !== row.hostname) device.update = { hostname }
  return device
}

/** KAGI_DEVICE_HOSTNAME_SUFFIXES: the host name must be one of the domains or inside one. */
export function checkHostnameSuffix(suffixes: readonly string[], hostname: string): void {
  if (suffixes.length === 0) return
  if (suffixes.some((suffix) => hostname === suffix || hostname.endsWith(`.${suffix}`))) return
  throw badRequest(`hostname ${hostname} is not in the company's domains (${suffixes.join(', ')}); ask IT which name to use`, 'profile_violation')
}

/**
 * Active device certificates of OTHER users for this host name. Self-service
 * and MDM requests are refused (one employee must not obtain a machine
 * certificate for another's computer); an admin reassigns the name, and the
 * previous holders' certificates are superseded in the same transaction.
 */
async function othersHoldingHostname(services: EnrollServices, request: Request, userId: string | undefined, hostname: string, now: Date) {
  const holders = (await activeHoldersOfHostname(services.db, hostname, now)).filter((h) => h.user_id !== userId)
  if (holders.length > 0 && request.actor.role !== 'admin') throw hostnameTaken(hostname)
  return holders
}

export const hostnameTaken = (hostname: string): ApiError =>
  new ApiError('hostname_taken', `the host name ${hostname} belongs to another user's device; an administrator can reassign it`)

/** MDMs that fetch the same profile again must not pile up certificates: 409 while the current one is far from expiry. */
async function refuseWhileCurrent(services: EnrollServices, deviceId: string, profile: string, now: Date): Promise<void> {
  const current = await activeCertificatesOf(services.db, deviceId, profile)
  const fresh = current.filter((c) => new Date(c.not_after).getTime() - now.getTime() > RENEW_WITHIN_MS)
  if (fresh.length === 0) return
  const newest = fresh.map((c) => new Date(c.not_after)).sort((a, b) => b.getTime() - a.getTime())[0]!
  throw new ApiError(
    'certificate_current',
    `device ${deviceId} already has a ${profile} certificate valid until ${newest.toISOString()} (serial ${fresh[0]!.serial}); kagi keeps no private keys, so it cannot hand that one out again: add renew=true (kagi bundle --renew) to replace it`,
  )
}

/** The PKCS#12 or the platform bundle, built from the signed certificate (pure; throws before anything is stored). */
function packageCredential(
  services: EnrollServices,
  request: Request,
  issued: IssuedCertificate,
  privateKey: Credential['privateKey'],
  device: ResolvedDevice | undefined,
  settings: BundleSettings | undefined,
): Pick<Enrollment, 'pkcs12' | 'bundle'> {
  const credential: Credential = {
    kind: request.profile,
    certificate: issued.der,
    privateKey,
    chain: services.chainDer,
    serial: issued.serial,
    subject: issued.subject,
    email: request.email,
    deviceId: device?.id ?? request.email,
    deviceName: device?.name ?? request.email,
  }
  if (request.deliver.as === 'bundle') return { bundle: buildBundle(request.deliver.platform, credential, settings!, request.deliver.managed) }
  const password = newPkcs12Password()
  return { pkcs12: { der: credentialPkcs12(credential, { organization: services.config.caName }, password, true), password } }
}
