import { randomBytes } from 'node:crypto'

/**
 * A new certificate serial number: 16 random bytes as a positive INTEGER
 * (RFC 5280 §4.1.2.2 allows up to 20 octets). The top bits are fixed to 01 so
 * the number is always positive and always exactly 16 octets in DER, which
 * leaves 126 random bits (the CA/Browser Forum asks for at least 64).
 * Uniqueness is enforced again by the database's primary key.
 */
export function newSerial(): Buffer {
  if (poolOffset + 16 > pool.length) {
    // Refill in bulk: one call into the CSPRNG per 256 serials instead of one each
    // (the same pooling Node uses for randomUUID).
    pool = randomBytes(4096)
    poolOffset = 0
  }
  const bytes = Buffer.from(pool.subarray(poolOffset, poolOffset + 16))
  // Wipe what was handed out so the pool never yields the same bytes twice.
  pool.fill(0, poolOffset, poolOffset + 16)
  poolOffset += 16
  bytes[0] = (bytes[0]! & 0x3f) | 0x40
  return bytes
}

let pool = Buffer.alloc(0)
let poolOffset = 0

/** Serial as kagi shows it: lowercase hex, no separators, no leading zero octets. */
export function serialToHex(serial: Uint8Array): string {
  return Buffer.from(serial).toString('hex').replace(/^(00)+(?=.)/, '')
}

/** Accepts hex with optional colons and any case; returns kagi's canonical form or undefined. */
export function normalizeSerial(text: string): string | undefined {
  const hex = text.replace(/:/g, '').toLowerCase()
  if (!/^[0-9a-f]{1,40}$/.test(hex)) return undefined
  return (hex.length % 2 ? `0${hex}` : hex).replace(/^(00)+(?=.)/, '')
}
