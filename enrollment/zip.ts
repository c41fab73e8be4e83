/**
 * A minimal ZIP writer (PKWARE APPNOTE.TXT 6.3.x): stored entries (method 0,
 * no compression — the contents are a few kilobytes of mostly random bytes),
 * UTF-8 names (general purpose flag bit 11), no ZIP64. Enough for the Android
 * bundle; Android's Files app, unzip and Python's zipfile read it.
 */
import * as zlib from 'node:zlib'

/** One file in the archive. */
export interface ZipEntry {
  name: string
  data: Buffer
}

let table: Uint32Array | undefined

/** Table-driven CRC-32 (ISO 3309, reflected polynomial 0xEDB88320), as APPNOTE §4.4.7 requires. */
export function tableCrc32(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      table[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (const byte of data) crc = table[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

/** zlib.crc32 exists from Node 20.15 / 22.2; older Node 20 releases use the table. */
const crc32: (data: Uint8Array) => number = typeof zlib.crc32 === 'function' ? (data) => zlib.crc32(data) : tableCrc32

/** MS-DOS date and time (APPNOTE §4.4.6), from the UTC fields; clamped to 1980–2107. */
function dosDateTime(date: Date): { time: number; date: number } {
  const year = Math.min(Math.max(date.getUTCFullYear(), 1980), 2107)
  return {
    time: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | Math.floor(date.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate(),
  }
}

const UTF8_NAMES = 0x0800
const VERSION = 20 // 2.0: what a stored entry with these features needs
const MADE_BY_UNIX = (3 << 8) | VERSION // host 3 = UNIX, so the external attributes carry a mode
const REGULAR_FILE_0644 = (0o100644 << 16) >>> 0

/**
 * Builds a ZIP archive of `entries`, all stamped with `modified`: local file
 * headers and data (§4.3.7), the central directory (§4.3.12) and the end of
 * central directory record (§4.3.16). Throws past the non-ZIP64 limits.
 */
export function buildZip(entries: readonly ZipEntry[], modified: Date): Buffer {
  if (entries.length > 0xffff) throw new RangeError('too many ZIP entries for a non-ZIP64 archive')
  const stamp = dosDateTime(modified)
  const parts: Buffer[] = []
  const central: Buffer[] = []
  let offset = 0
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8')
    if (name.length === 0 || name.length > 0xffff || entry.name.includes('\\') || entry.name.startsWith('/')) {
      throw new Error(`bad ZIP entry name "${entry.name}"`)
    }
    if (entry.data.length >= 0xffffffff || offset >= 0xffffffff) throw new RangeError('ZIP entry too large for a non-ZIP64 archive')
    const crc = crc32(entry.data)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(VERSION, 4)
    local.writeUInt16LE(UTF8_NAMES, 6)
    local.writeUInt16LE(0, 8) // method 0: stored
    local.writeUInt16LE(stamp.time, 10)
    local.writeUInt16LE(stamp.date, 12)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(entry.data.length, 18) // compressed size
    local.writeUInt32LE(entry.data.length, 22) // uncompressed size
    local.writeUInt16LE(name.length, 26)
    local.writeUInt16LE(0, 28) // extra field length
    parts.push(local, name, entry.data)

    const header = Buffer.alloc(46)
    header.writeUInt32LE(0x02014b50, 0)
    header.writeUInt16LE(MADE_BY_UNIX, 4)
    header.writeUInt16LE(VERSION, 6)
    header.writeUInt16LE(UTF8_NAMES, 8)
    header.writeUInt16LE(0, 10)
    header.writeUInt16LE(stamp.time, 12)
    header.writeUInt16LE(stamp.date, 14)
    header.writeUInt32LE(crc, 16)
    header.writeUInt32LE(entry.data.length, 20)
    header.writeUInt32LE(entry.data.length, 24)
    header.writeUInt16LE(name.length, 28)
    // extra, comment, disk number start, internal attributes: all 0 (offsets 30–37)
    header.writeUInt32LE(REGULAR_FILE_0644, 38)
    header.writeUInt32LE(offset, 42)
    central.push(header, name)
    offset += local.length + name.length + entry.data.length
  }
  const directory = Buffer.concat(central)
  if (offset >= 0xffffffff) throw new RangeError('ZIP archive too large for a non-ZIP64 archive')
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  // disk numbers 0 (offsets 4–7)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(directory.length, 12)
  end.writeUInt32LE(offset, 16)
  // comment length 0 (offset 20)
  return Buffer.concat([...parts, directory, end])
}
