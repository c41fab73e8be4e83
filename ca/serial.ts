import { randomBytes } from 'node:crypto'

/**
 * A new certificate serial number: 16 random bytes as a positive INTEGER
 * (RFC 5280 §4.1.2.2 allows up to 20 octets). The top bits are fixed to 01 so
 * the number is always positive and always exactly 16 octets in DER, which
 * leaves 126 random bits (the CA/Browser Forum asks for at least 64).
 * Uniqueness is enforced again by the database's primary key.
 */
export function newSerial(): Buffer {
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0]! & 0x3f) | 0x40
  return bytes
}

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
