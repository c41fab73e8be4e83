import { randomBytes, randomUUID } from 'node:crypto'
import { activeHoldersOfHostname } from '../db/certificate-query.js'
import { findOwnedDevice } from '../db/device-repository.js'
import { insertScepChallenge } from '../db/scep-repository.js'
import { badRequest, notFound } from '../errors.js'
import { scepChallengeBody, type ScepChallengeBody } from '../schemas/scep.js'
import { parseOrBadRequest } from '../schemas/parse.js'
import type { KagiServices } from '../startup/services.js'
import { checkHostnameSuffix, hostnameTaken } from './enroll.js'

/** Who asks for a challenge: the token (NDES challenges are bound to it), an audit label and the client's address. */
export interface ChallengeRequester {
  tokenId: string
  label: string
  clientIp?: string
}

/** A fresh challenge: shown once, stored only as a hash. */
export interface IssuedChallenge {
  challenge: string
  expiresAt: Date
}

/** 128 random bits as 32 hexadecimal digits: the form NDES hands out, which every SCEP client and MDM passes through untouched. */
const newChallenge = (): string => randomBytes(16).toString('hex').toUpperCase()

/**
 * A one-time challenge bound to one user, optionally one device, and one
 * profile (POST /api/v1/scep/challenges, the MDM profile with
 * delivery=scep). What can be checked now is checked now, so a challenge
 * handed out can succeed: a device given by id must belong to the user, and
 * the device profile needs a host name in KAGI_DEVICE_HOSTNAME_SUFFIXES that
 * no other user's device holds. Audited, without the challenge.
 */
export async function createRecordChallenge(services: Pick<KagiServices, 'db' | 'config' | 'findUserId'>, input: unknown, requester: ChallengeRequester): Promise<IssuedChallenge> {
  const body: ScepChallengeBody = parseOrBadRequest(scepChallengeBody, input)
  const userId = await services.findUserId(body.user)
  let hostname: string | undefined
  if (body.device && 'id' in body.device) {
    const device = userId ? await findOwnedDevice(services.db, userId, body.device.id) : undefined
    if (!device) throw notFound(`no device ${body.device.id} belongs to ${body.user}`)
    hostname = device.hostname ?? undefined
  } else hostname = body.device?.hostname
  if (body.profile === 'device') {
    if (!hostname) throw badRequest('the device profile needs "device" with a name, platform and hostname (or the id of a device that has one)', 'profile_violation')
    // The enrollment's own rules for the name, checked now so that no challenge is handed out that must fail.
    checkHostnameSuffix(services.config.deviceHostnameSuffixes, hostname)
    if ((await activeHoldersOfHostname(services.db, hostname, new Date())).some((h) => h.user_id !== userId)) throw hostnameTaken(hostname)
  }
  return storeChallenge(services, { kind: 'record', email: body.user, device: body.device ?? null, profile: body.profile }, requester)
}

/**
 * An NDES-style challenge (GET /certsrv/mscep_admin/): bound to the token
 * that asked, not to a user. The SCEP request's CSR then names the user or
 * device, which must be one kagi knows within KAGI_SCEP_ALLOWED_DOMAINS
 * (scep-identity.ts).
 */
export async function createNdesChallenge(services: Pick<KagiServices, 'db' | 'config'>, requester: ChallengeRequester): Promise<IssuedChallenge> {
  return storeChallenge(services, { kind: 'ndes', email: null, device: null, profile: null }, requester)
}

async function storeChallenge(
  services: Pick<KagiServices, 'db' | 'config'>,
  binding: { kind: 'record' | 'ndes'; email: string | null; device: Record<string, unknown> | null; profile: 'user' | 'device' | null },
  requester: ChallengeRequester,
): Promise<IssuedChallenge> {
  const challenge = newChallenge()
  const expiresAt = new Date(Date.now() + services.config.scep.challengeTtlMs)
  await insertScepChallenge(services.db, {
    id: randomUUID(),
    challenge,
    ...binding,
    tokenId: requester.tokenId,
    createdBy: requester.label,
    expiresAt,
    clientIp: requester.clientIp ?? null,
  })
  return { challenge, expiresAt }
}
