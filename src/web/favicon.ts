import type { FastifyInstance } from 'fastify'

/** The accent colour of the page (html.ts), as BGRA for the bitmap. */
const ACCENT = [0xd0, 0x57, 0x0b, 0xff]
const SIZE = 32

/** True where the key (鍵) glyph is drawn: a ring on the left, a shaft to the right with two teeth. */
function inKey(x: number, y: number): boolean {
  const dx = x - 9.5
  const dy = y - 15.5
  const r = Math.hypot(dx, dy)
  const ring = r <= 8 && r >= 4
  const shaft = x >= 16 && x <= 30 && y >= 14 && y <= 17
  const teeth = y >= 17 && y <= 22 && ((x >= 22 && x <= 24) || (x >= 27 && x <= 29))
  return ring || shaft || teeth
}

/**
 * A 32×32 icon in the ICO format (one 32-bit BMP image: ICONDIR, ICONDIRENTRY,
 * BITMAPINFOHEADER with double height, bottom-up BGRA rows, then the 1-bit AND
 * mask), drawn here so kagi makes no request elsewhere and ships no binary.
 */
export function faviconIco(): Buffer {
  const pixels = Buffer.alloc(SIZE * SIZE * 4)
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      if (!inKey(x, y)) continue
      const row = SIZE - 1 - y // BMP rows are stored bottom-up
      Buffer.from(ACCENT).copy(pixels, (row * SIZE + x) * 4)
    }
  }
  const mask = Buffer.alloc((SIZE / 8) * SIZE) // all zero: transparency comes from the alpha channel
  const header = Buffer.alloc(40)
  header.writeUInt32LE(40, 0)
  header.writeInt32LE(SIZE, 4)
  header.writeInt32LE(SIZE * 2, 8) // XOR image + AND mask
  header.writeUInt16LE(1, 12)
  header.writeUInt16LE(32, 14)
  header.writeUInt32LE(pixels.length + mask.length, 20)
  const image = Buffer.concat([header, pixels, mask])
  const dir = Buffer.alloc(6 + 16)
  dir.writeUInt16LE(1, 2) // type: icon
  dir.writeUInt16LE(1, 4) // one image
  dir.writeUInt8(SIZE, 6)
  dir.writeUInt8(SIZE, 7)
  dir.writeUInt16LE(1, 10) // planes
  dir.writeUInt16LE(32, 12) // bits per pixel
  dir.writeUInt32LE(image.length, 14)
  dir.writeUInt32LE(dir.length, 18)
  return Buffer.concat([dir, image])
}

/** GET /favicon.ico: browsers ask for it on every first visit; without it each console shows a 404. */
export async function faviconRoutes(app: FastifyInstance): Promise<void> {
  const ico = faviconIco()
  app.get('/favicon.ico', async (_request, reply) => reply.header('content-type', 'image/x-icon').header('cache-control', 'public, max-age=86400').send(ico))
}
