/**
 * A minimal DER (ITU-T X.690 §10) writer and reader.
 *
 * Why not @peculiar/asn1-schema for leaves: building a certificate through its
 * decorated schema classes runs at a few hundred per second, while kagi's
 * issuance target is thousands per second. A certificate is a handful of
 * nested TLVs; writing them directly is short, fast and easy to audit.
 * Parsing of anything complex (imported CA certificates, CRLs) still goes
 * through @peculiar/x509.
 */

/** ASN.1 universal tags used by kagi. */
export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  enumerated: 0x0a,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const

function lengthBytes(length: number): Buffer {
  const out = Buffer.allocUnsafe(lengthOctets(length))
  writeLength(out, 0, length)
  return out
}

/** Octets of a definite length (X.690 §8.1.3): short form below 128, else 0x8n and n big-endian octets. */
function lengthOctets(length: number): number {
  return length < 0x80 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : length < 0x1000000 ? 4 : 5
}

function writeLength(out: Buffer, offset: number, length: number): void {
  const octets = lengthOctets(length)
  if (octets === 1) {
    out[offset] = length
    return
  }
  out[offset] = 0x80 | (octets - 1)
  for (let i = octets - 1, n = length; i > 0; i--, n = Math.floor(n / 256)) out[offset + i] = n & 0xff
}

/**
 * Encodes one TLV: tag byte, definite length, content. One allocation and one
 * copy of the content: OCSP answers and certificates are some 25 nested TLVs,
 * so the writer's allocations were a fifth of a fresh OCSP answer's time.
 */
export function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  let length = 0
  for (const part of content) length += part.length
  const header = 1 + lengthOctets(length)
  const out = Buffer.allocUnsafe(header + length)
  out[0] = tag
  writeLength(out, 1, length)
  let offset = header
  for (const part of content) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

export const seq = (...items: Uint8Array[]): Buffer => tlv(Tag.sequence, ...items)
/** SEQUENCE OF a long list (no argument spreading: 100,000 CRL entries would overflow the call stack). */
export const seqOf = (items: readonly Uint8Array[]): Buffer => {
  const body = Buffer.concat(items)
  return Buffer.concat([Buffer.from([Tag.sequence]), lengthBytes(body.length), body])
}
export const set = (...items: Uint8Array[]): Buffer => tlv(Tag.set, ...items)
export const octets = (bytes: Uint8Array): Buffer => tlv(Tag.octetString, bytes)
export const nullValue = (): Buffer => Buffer.from([Tag.null, 0])
export const bool = (value: boolean): Buffer => Buffer.from([Tag.boolean, 1, value ? 0xff : 0])
export const utf8 = (text: string): Buffer => tlv(Tag.utf8String, Buffer.from(text, 'utf8'))
export const ia5 = (text: string): Buffer => tlv(Tag.ia5String, Buffer.from(text, 'ascii'))
/** Context-specific constructed tag [n] (EXPLICIT wrapping). */
export const explicit = (n: number, ...items: Uint8Array[]): Buffer => tlv(0xa0 | n, ...items)
/** Context-specific primitive tag [n] (IMPLICIT over a primitive type). */
export const implicit = (n: number, bytes: Uint8Array): Buffer => tlv(0x80 | n, bytes)

/** BIT STRING with no unused bits (keys, signatures, key usage is built separately). */
export const bitString = (bytes: Uint8Array): Buffer => tlv(Tag.bitString, Buffer.from([0]), bytes)

/** INTEGER from a small non-negative number. */
export function int(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`bad DER integer ${value}`)
  const bytes: number[] = []
  for (let n = value; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff)
  if (bytes.length === 0 || (bytes[0]! & 0x80) !== 0) bytes.unshift(0)
  return tlv(Tag.integer, Buffer.from(bytes))
}

/** INTEGER from unsigned big-endian bytes (serial numbers), minimally encoded. */
export function uint(bytes: Uint8Array): Buffer {
  let start = 0
  while (start < bytes.length - 1 && bytes[start] === 0) start++
  const trimmed = Buffer.from(bytes.subarray(start))
  return tlv(Tag.integer, (trimmed[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed)
}

const oidCache = new Map<string, Buffer>()

/**
 * OBJECT IDENTIFIER from dotted text; encodings are cached (the set in use is
 * tiny). Arcs may be of any size (X.660 puts UUIDs under 2.25 as 128-bit arcs).
 */
export function oid(dotted: string): Buffer {
  const cached = oidCache.get(dotted)
  if (cached) return cached
  const parts = dotted.split('.')
  if (parts.length < 2 || parts.some((p) => !/^(0|[1-9]\d*)$/.test(p))) throw new RangeError(`bad OID ${dotted}`)
  const arcs = parts.map(BigInt)
  if (arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) throw new RangeError(`bad OID ${dotted}`)
  const body: number[] = []
  const push = (value: bigint): void => {
    const chunk = [Number(value & 0x7fn)]
    for (let n = value >> 7n; n > 0n; n >>= 7n) chunk.unshift(0x80 | Number(n & 0x7fn))
    body.push(...chunk)
  }
  push(arcs[0]! * 40n + arcs[1]!)
  for (const arc of arcs.slice(2)) push(arc)
  const encoded = tlv(Tag.oid, Buffer.from(body))
  oidCache.set(dotted, encoded)
  return encoded
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0')
}

/**
 * RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, both in
 * UTC with seconds and no fractions.
 */
export function time(date: Date): Buffer {
  const y = date.getUTCFullYear()
  const rest = `${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`
  if (y >= 1950 && y < 2050) return tlv(Tag.utcTime, Buffer.from(pad(y % 100) + rest, 'ascii'))
  return tlv(Tag.generalizedTime, Buffer.from(pad(y, 4) + rest, 'ascii'))
}

/** GeneralizedTime always (OCSP and some CRL fields require it). */
export function generalizedTime(date: Date): Buffer {
  // OCSP answers carry the same few seconds over and over (producedAt, thisUpdate, nextUpdate): encode each once.
  const second = Math.floor(date.getTime() / 1000)
  const known = recentTimes.get(second)
  if (known) return known
  const text = `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`
  const encoded = tlv(Tag.generalizedTime, Buffer.from(text, 'ascii'))
  if (recentTimes.size >= 16) recentTimes.clear()
  recentTimes.set(second, encoded)
  return encoded
}

/** Encoded GeneralizedTimes by second (see generalizedTime); shared, so never written to. */
const recentTimes = new Map<number, Buffer>()

/** A parsed TLV: its tag, content bytes, and the whole encoding. */
export interface Node {
  tag: number
  /** Content octets. */
  value: Buffer
  /** The complete TLV (tag + length + content). */
  raw: Buffer
}

/** Error thrown for malformed DER; callers translate it into a domain error. */
export class DerError extends Error {}

/** Reads one TLV at `offset`; definite lengths only, as DER requires. */
export function read(buf: Buffer, offset = 0): Node {
  if (offset + 2 > buf.length) throw new DerError('truncated DER')
  const tag = buf[offset]!
  if ((tag & 0x1f) === 0x1f) throw new DerError('high-tag-number form is not used here')
  let length = buf[offset + 1]!
  let header = 2
  if (length & 0x80) {
    const count = length & 0x7f
    if (count === 0 || count > 4) throw new DerError('unsupported DER length')
    if (offset + 2 + count > buf.length) throw new DerError('truncated DER length')
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + buf[offset + 2 + i]!
    header += count
  }
  const end = offset + header + length
  if (end > buf.length) throw new DerError('DER length runs past the end of the data')
  return { tag, value: buf.subarray(offset + header, end), raw: buf.subarray(offset, end) }
}

/** Reads exactly one TLV spanning the whole buffer. */
export function readOne(buf: Buffer): Node {
  const node = read(buf, 0)
  if (node.raw.length !== buf.length) throw new DerError('trailing bytes after DER value')
  return node
}

/** The children of a constructed node, in order. */
export function children(node: Node): Node[] {
  const out: Node[] = []
  for (let offset = 0; offset < node.value.length; ) {
    const child = read(node.value, offset)
    out.push(child)
    offset += child.raw.length
  }
  return out
}

/** Dotted text of an OBJECT IDENTIFIER node. */
export function readOid(node: Node): string {
  if (node.tag !== Tag.oid || node.value.length === 0) throw new DerError('expected an OBJECT IDENTIFIER')
  const arcs: (number | bigint)[] = []
  // Arcs are read as numbers while they fit (every OID kagi meets), as BigInt beyond (2.25 UUID arcs).
  let value: number | bigint = 0
  for (const byte of node.value) {
    if (typeof value === 'number' && value > 2 ** 45) value = BigInt(value)
    value = typeof value === 'bigint' ? value * 128n + BigInt(byte & 0x7f) : value * 128 + (byte & 0x7f)
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0) {
        if (typeof value === 'bigint') arcs.push(2, value - 80n)
        else arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80)
      } else arcs.push(value)
      value = 0
    }
  }
  if (value !== 0) throw new DerError('an OBJECT IDENTIFIER ends in the middle of an arc')
  return arcs.join('.')
}

/** Converts PEM text with the given label (or any label) to DER. */
export function pemToDer(pem: string, label?: string): Buffer {
  const match = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(pem)
  if (!match || (label && match[1] !== label)) throw new DerError(`expected PEM ${label ?? ''}`.trim())
  return Buffer.from(match[2]!.replace(/\s+/g, ''), 'base64')
}

/** Wraps DER in PEM with 64-character lines (RFC 7468). */
export function derToPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`
}
