import { createHash } from 'node:crypto'

/** SHA-1's block size (v) and output size (u), in bytes (RFC 7292 Appendix B.2). */
const V = 64
const U = 20

/**
 * SHA-1 (FIPS 180-4 §6.1) of a 20-byte message held as five big-endian words,
 * in place: the one-block case the PKCS#12 KDF iterates 2,048 times per key.
 * node:crypto costs more than that in set-up per call (createHash, digest:
 * it was slower than node-forge here); this loop costs a fraction of either,
 * and node-forge's KDF was most of a PKCS#12's CPU (65 ms before, 24 ms
 * after, on a busy machine; issue 15: server-side keys at 95 % of bare key
 * generation). test/enrollment/pkcs12-kdf.test.ts checks the KDF's bytes
 * against node-forge's for random inputs and many iteration counts.
 */
function sha1OfDigest(h: Int32Array, w: Int32Array): void {
  w[0] = h[0]!
  w[1] = h[1]!
  w[2] = h[2]!
  w[3] = h[3]!
  w[4] = h[4]!
  // The padding of a 160-bit message: a 1 bit, zeros, and the length.
  w[5] = 0x80000000 | 0
  for (let t = 6; t < 15; t++) w[t] = 0
  w[15] = 160
  for (let t = 16; t < 80; t++) {
    const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!
    w[t] = (x << 1) | (x >>> 31)
  }
  let a = 0x67452301 | 0
  let b = 0xefcdab89 | 0
  let c = 0x98badcfe | 0
  let d = 0x10325476 | 0
  let e = 0xc3d2e1f0 | 0
  for (let t = 0; t < 80; t++) {
    let f: number
    let k: number
    if (t < 20) {
      f = (b & c) | (~b & d)
      k = 0x5a827999
    } else if (t < 40) {
      f = b ^ c ^ d
      k = 0x6ed9eba1
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d)
      k = 0x8f1bbcdc | 0
    } else {
      f = b ^ c ^ d
      k = 0xca62c1d6 | 0
    }
    const temp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]!) | 0
    e = d
    d = c
    c = (b << 30) | (b >>> 2)
    b = a
    a = temp
  }
  h[0] = (0x67452301 + a) | 0
  h[1] = (0xefcdab89 + b) | 0
  h[2] = (0x98badcfe + c) | 0
  h[3] = (0x10325476 + d) | 0
  h[4] = (0xc3d2e1f0 + e) | 0
}

/** `bytes` repeated to fill a whole number of v-byte blocks (empty stays empty). */
function fillBlocks(bytes: Buffer): Buffer {
  const out = Buffer.alloc(V * Math.ceil(bytes.length / V))
  for (let i = 0; i < out.length; i++) out[i] = bytes[i % bytes.length]!
  return out
}

/**
 * The PKCS#12 key derivation (RFC 7292 Appendix B.2) with SHA-1: `length`
 * bytes of key material (id 1), IV (id 2) or MAC key (id 3) from the
 * password and salt. The password is its BMPString with the two-byte
 * terminator, also when empty ('' for ChromeOS ONC → 00 00). That is the
 * encoding OpenSSL's PKCS12_create writes for an empty password; its reader
 * tries the zero-length ("NULL") form first and then this one, and uses the
 * one whose MAC verifies to decrypt the bags, so MAC and encryption must use
 * the same form (they do: pkcs12.ts derives all three through here).
 */
export function pkcs12Kdf(password: string, salt: Buffer, id: 1 | 2 | 3, iterations: number, length: number): Buffer {
  const bmp = Buffer.alloc((password.length + 1) * 2)
  for (let i = 0; i < password.length; i++) bmp.writeUInt16BE(password.charCodeAt(i), i * 2)
  const diversifier = Buffer.alloc(V, id)
  const input = Buffer.concat([fillBlocks(salt), fillBlocks(bmp)])
  const h = new Int32Array(5)
  const w = new Int32Array(80)
  const out = Buffer.alloc(U * Math.ceil(length / U))
  for (let block = 0; block * U < length; block++) {
    const first = createHash('sha1').update(diversifier).update(input).digest()
    for (let i = 0; i < 5; i++) h[i] = first.readInt32BE(i * 4)
    for (let round = 1; round < iterations; round++) sha1OfDigest(h, w)
    for (let i = 0; i < 5; i++) out.writeInt32BE(h[i]!, block * U + i * 4)
    if ((block + 1) * U >= length) break
    // I_j = (I_j + B + 1) mod 2^(v·8) for each v-byte block of I, B being A repeated to v bytes.
    const a = out.subarray(block * U, block * U + U)
    for (let j = 0; j < input.length; j += V) {
      let carry = 1
      for (let k = V - 1; k >= 0; k--) {
        const sum = input[j + k]! + a[k % U]! + carry
        input[j + k] = sum & 0xff
        carry = sum >> 8
      }
    }
  }
  return out.subarray(0, length)
}
