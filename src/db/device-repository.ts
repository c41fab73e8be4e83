import { randomUUID } from 'node:crypto'
import type { Kysely, Transaction } from 'kysely'
import type { Database, DeviceRow, Platform } from './database.js'

type Executor = Kysely<Database> | Transaction<Database>

/** A device as an API client or the enrollment page describes it. */
export interface DeviceInput {
  name: string
  platform: Platform
  hostname?: string
  serialNumber?: string
}

/**
 * How a device is recognized when enrolled again: by hardware serial number
 * when known, else by platform and name.
 */
export function deviceMatchKey(device: DeviceInput): string {
  return device.serialNumber ? `sn:${device.serialNumber}` : `name:${device.platform}:${device.name.toLowerCase()}`
}

/**
 * Finds the owner's device or creates it, in one statement (so concurrent
 * enrollments of the same device agree). A new hostname or name updates the
 * inventory: the latest enrollment describes the device best.
 */
export async function upsertDevice(db: Executor, userId: string, device: DeviceInput): Promise<DeviceRow> {
  return db
    .insertInto('device')
    .values({
      id: randomUUID(),
      user_id: userId,
      name: device.name,
      platform: device.platform,
      hostname: device.hostname ?? null,
      serial_number: device.serialNumber ?? null,
      match_key: deviceMatchKey(device),
    })
    .onConflict((oc) =>
      oc.columns(['user_id', 'match_key']).doUpdateSet((eb) => ({
        name: eb.ref('excluded.name'),
        platform: eb.ref('excluded.platform'),
        hostname: eb.fn.coalesce('excluded.hostname', 'device.hostname'),
      })),
    )
    .returningAll()
    .executeTakeFirstOrThrow()
}
