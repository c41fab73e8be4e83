import 'reflect-metadata'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import t from 'tap'
import { build } from '../helper.js'

t.test('/favicon.ico is an icon', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({ url: '/favicon.ico' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'image/x-icon')
  const ico = res.rawPayload
  t.same([ico.readUInt16LE(0), ico.readUInt16LE(2), ico.readUInt16LE(4)], [0, 1, 1], 'ICONDIR: one icon')
  t.equal(ico.readUInt8(6), 32, '32 px wide')
  t.equal(ico.readUInt32LE(18) + ico.readUInt32LE(14), ico.length, 'the image fills the file')
  t.equal(ico.readUInt32LE(22), 40, 'a BITMAPINFOHEADER')
})

t.test('text answers are compressed when the client accepts it; binary ones are not', async (t) => {
  const { app } = await build(t, { env: { KAGI_PUBLIC_URL: 'http://127.0.0.1:3000' } })
  const page = await app.inject({ url: '/', headers: { 'accept-encoding': 'br, gzip' } })
  t.equal(page.headers['content-encoding'], 'br')
  t.match(brotliDecompressSync(page.rawPayload).toString(), /<html/i)
  const gz = await app.inject({ url: '/', headers: { 'accept-encoding': 'gzip' } })
  t.equal(gz.headers['content-encoding'], 'gzip')
  t.match(gunzipSync(gz.rawPayload).toString(), /<html/i)
  const plain = await app.inject({ url: '/' })
  t.equal(plain.headers['content-encoding'], undefined, 'not without Accept-Encoding')
  const crl = await app.inject({ url: '/pki/crl', headers: { 'accept-encoding': 'gzip' } })
  t.equal(crl.headers['content-encoding'], undefined, 'a DER CRL is left alone')
})
