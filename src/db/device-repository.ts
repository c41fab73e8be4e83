import type { Kysely, Transaction } from 'kysely'
import type { Database, DeviceRow, Platform } from './database.js'
import { ocspCheckColumns } from './ocsp-check-repository.js'

type Executor = Kysely<Database> | Transaction<Database>

/** The facts that identify a device within its owner's list. */
export interface DeviceKey {
  name: string
  platform: Platform
  serialNumber?: string
}

/**
 * How a device is recognized when enrolled again: by hardware serial number
 * when known, else by platform and name (migration 0003's match_key).
 */
export function deviceMatchKey(device: DeviceKey): string {
  return device.serialNumber ? `sn:${device.serialNumber}` : `name:${device.platform}:${device.name.toLowerCase()}`
}

/** The owner's device with this match key, or undefined. */
export async function findDeviceByMatchKey(db: Executor, userId: string, matchKey: string): Promise<DeviceRow | undefined> {
  return db.selectFrom('device').selectAll().where('user_id', '=', userId).where('match_key', '=', matchKey).executeTakeFirst()
}

/** The owner's device of this name (case-insensitive, any platform), or undefined. */
export async function findDeviceNamed(db: Executor, userId: string, name: string): Promise<DeviceRow | undefined> {
  return db.selectFrom('device').selectAll().where('user_id', '=', userId).where((eb) => eb(eb.fn('lower', ['name']), '=', name.toLowerCase())).limit(1).executeTakeFirst()
}

/** A device with its certificates, newest first, for the enrollment page. */
export interface DeviceWithCertificates {
  id: string
  name: string
  platform: Platform
  hostname: string | null
  certificates: { serial: string; profile: string; status: 'active' | 'revoked'; notAfter: Date; issuedAt: Date; lastOcspCheckAt: Date | null; ocspChecks: number }[]
}

/** The user's devices with their certificates (bounded: a person has a handful of devices). */
export async function devicesOfUser(db: Kysely<Database>, userId: string, limit = 50): Promise<DeviceWithCertificates[]> {
  const devices = await db.selectFrom('device').selectAll().where('user_id', '=', userId).orderBy('created_at', 'desc').limit(limit).execute()
  if (devices.length === 0) return []
  const certificates = await db
    .selectFrom('certificate')
    .leftJoin('ocsp_check', 'ocsp_check.serial', 'certificate.serial')
    .select(['certificate.serial', 'profile', 'status', 'not_after', 'issued_at', 'device_id'])
    .select(ocspCheckColumns)
    .where('user_id', '=', userId)
    .where(
      'device_id',
      'in',
      devices.map((d) => d.id),
    )
    .orderBy('issued_at', 'desc')
    .limit(limit * 20)
    .execute()
  return devices.map((device) => ({
    id: device.id,
    name: device.name,
    platform: device.platform,
    hostname: device.hostname,
    certificates: certificates
      .filter((c) => c.device_id === device.id)
      .map((c) => ({
        serial: c.serial,
        profile: c.profile,
        status: c.status,
        notAfter: new Date(c.not_after),
        issuedAt: new Date(c.issued_at),
        lastOcspCheckAt: c.last_ocsp_check_at ? new Date(c.last_ocsp_check_at) : null,
        ocspChecks: Number(c.ocsp_checks),
      })),
  }))
}

/** Device ids are uuids (the column's type): anything else cannot name a device. */
export const isDeviceId = (value: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)

/** A device of this owner, or undefined (also when it belongs to someone else, or the id is not a uuid). */
export async function findOwnedDevice(db: Executor, userId: string, deviceId: string) {
  // PostgreSQL refuses a malformed uuid with an error; a malformed id simply names no device.
  if (!isDeviceId(deviceId)) return undefined
  return db.selectFrom('device').selectAll().where('id', '=', deviceId).where('user_id', '=', userId).executeTakeFirst()
}

/** A device of the user with this email, or undefined (someone else's, no such user, or not a uuid): one query. */
export async function findDeviceOfEmail(db: Kysely<Database>, email: string, deviceId: string): Promise<DeviceRow | undefined> {
  if (!isDeviceId(deviceId)) return undefined
  return db
    .selectFrom('device')
    .innerJoin('app_user', 'app_user.id', 'device.user_id')
    .selectAll('device')
    .where('device.id', '=', deviceId)
    .where('app_user.email', '=', email.toLowerCase())
    .executeTakeFirst()
}

/** Serials of the device's certificates that are still active. */
export async function activeSerialsOfDevice(db: Kysely<Database>, deviceId: string): Promise<string[]> {
  const rows = await db.selectFrom('certificate').select('serial').where('device_id', '=', deviceId).where('status', '=', 'active').execute()
  return rows.map((r) => r.serial)
}
