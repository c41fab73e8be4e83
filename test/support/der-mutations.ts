/**
 * Seeded, ASN.1-aware input mutations for fuzzing DER parsers (the SCEP fuzz
 * test and `npm run fuzz`): truncations, bit flips, insertions and deletions,
 * and changes to one TLV's tag, length or content, a duplicated or removed
 * element. Deterministic per seed, so a failure can be replayed.
 */

/** mulberry32: a small, seeded PRNG (the fuzzer needs reproducibility, not quality). */
export function prng(seed: number) {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 15), z | 1)
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61)
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  return {
    next,
    int,
    range: (lo: number, hi: number): number => lo + int(hi - lo + 1),
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
    bytes: (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256))),
    chance: (p: number): boolean => next() < p,
  }
}
export type Rng = ReturnType<typeof prng>

// ---- ASN.1-aware mutations --------------------------------------------------------------------

/** Where one TLV header sits: its tag byte, its length octets and its content. */
interface Header {
  at: number
  lengthAt: number
  lengthBytes: number
  contentAt: number
  end: number
}

/** The TLV headers of a DER buffer, descending into constructed values (bounded depth and count). */
export function headers(der: Buffer): Header[] {
  const out: Header[] = []
  const walk = (from: number, to: number, depth: number): void => {
    for (let at = from; at < to && out.length < 2_000; ) {
      if (at + 2 > to || (der[at]! & 0x1f) === 0x1f) return
      const first = der[at + 1]!
      const lengthBytes = first & 0x80 ? 1 + (first & 0x7f) : 1
      if (lengthBytes > 5 || at + 1 + lengthBytes > to) return
      let length = first & 0x80 ? 0 : first
      for (let i = 1; i < lengthBytes; i++) length = length * 256 + der[at + 1 + i]!
      const contentAt = at + 1 + lengthBytes
      const end = contentAt + length
      if (end > to) return
      out.push({ at, lengthAt: at + 1, lengthBytes, contentAt, end })
      if (der[at]! & 0x20 && depth < 16) walk(contentAt, end, depth + 1)
      at = end
    }
  }
  walk(0, der.length, 0)
  return out
}

export const replace = (der: Buffer, at: number, count: number, bytes: Buffer): Buffer => Buffer.concat([der.subarray(0, at), bytes, der.subarray(at + count)])

/** A new length field: off by one, zero, indefinite, non-minimal, or huge. */
function lengthField(rng: Rng, old: number): Buffer {
  const choices = [
    () => encodeLength(Math.max(0, old + rng.pick([-1, 1, -2, 2, 127, 128]))),
    () => Buffer.from([0x00]),
    () => Buffer.from([0x80]), // indefinite (BER), with no end-of-contents
    () => Buffer.from([0x81, old & 0xff]),
    () => Buffer.from([0x84, 0x7f, 0xff, 0xff, 0xff]),
    () => Buffer.from([0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    () => Buffer.from([0xff]),
    () => Buffer.from([0x82, 0x00, old & 0x7f]),
  ]
  return rng.pick(choices)()
}

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

function asn1Mutation(rng: Rng, der: Buffer): { bytes: Buffer; label: string } {
  const all = headers(der)
  if (all.length === 0) return { bytes: der, label: 'asn1:none' }
  const h = rng.pick(all)
  const oldLength = h.end - h.contentAt
  switch (rng.int(5)) {
    case 0:
      return { bytes: replace(der, h.lengthAt, h.lengthBytes, lengthField(rng, oldLength)), label: `asn1:length@${h.at}` }
    case 1: {
      const tags = [0x30, 0x31, 0x04, 0x24, 0x02, 0x06, 0x05, 0x13, 0x0c, 0xa0, 0x80, 0x1f, 0x00, der[h.at]! ^ 0x20]
      return { bytes: replace(der, h.at, 1, Buffer.from([rng.pick(tags)])), label: `asn1:tag@${h.at}` }
    }
    case 2: // the element twice (two SignerInfos, repeated attributes, two certificates…)
      return { bytes: Buffer.concat([der.subarray(0, h.end), der.subarray(h.at, h.end), der.subarray(h.end)]), label: `asn1:duplicate@${h.at}` }
    case 3: // the element removed, the enclosing lengths left as they were
      return { bytes: Buffer.concat([der.subarray(0, h.at), der.subarray(h.end)]), label: `asn1:remove@${h.at}` }
    default: // the content emptied or replaced by noise of another size
      return { bytes: replace(der, h.lengthAt, h.end - h.lengthAt, Buffer.concat([encodeLength(oldLength % 7), rng.bytes(oldLength % 7)])), label: `asn1:content@${h.at}` }
  }
}

// ---- byte-level mutations ---------------------------------------------------------------------

/**
 * A byte position; one in `cold` is drawn again with probability 0.85. The cold part is the
 * signer certificate's own signature, which nothing checks: every flip there leaves a message
 * kagi verifies and decrypts (~30 ms of RSA in JavaScript), so uniform positions would spend the
 * time budget on one uninteresting region.
 */
function position(rng: Rng, length: number, cold?: readonly [number, number]): number {
  const at = rng.int(length)
  return cold && at >= cold[0] && at < cold[1] && rng.chance(0.85) ? rng.int(length) : at
}

function byteMutation(rng: Rng, der: Buffer, cold?: readonly [number, number]): { bytes: Buffer; label: string } {
  switch (rng.int(5)) {
    case 0: {
      const at = rng.int(der.length)
      return { bytes: der.subarray(0, at), label: `truncate@${at}` }
    }
    case 1:
    case 2: {
      const bytes = Buffer.from(der)
      const flips = rng.range(1, 8)
      for (let i = 0; i < flips; i++) bytes[position(rng, bytes.length, cold)]! ^= 1 << rng.int(8)
      return { bytes, label: `flip×${flips}` }
    }
    case 3: {
      const at = position(rng, der.length + 1, cold)
      const n = rng.range(1, 16)
      return { bytes: replace(der, at, 0, rng.bytes(n)), label: `insert${n}@${at}` }
    }
    default: {
      const at = position(rng, der.length, cold)
      const n = rng.range(1, 16)
      return { bytes: replace(der, at, n, Buffer.alloc(0)), label: `delete${n}@${at}` }
    }
  }
}

export function mutate(rng: Rng, der: Buffer, cold?: readonly [number, number]): { bytes: Buffer; label: string } {
  const one = (input: Buffer, region?: readonly [number, number]) => (rng.chance(0.3) ? asn1Mutation(rng, input) : byteMutation(rng, input, region))
  const first = one(der, cold)
  if (!rng.chance(0.1) || first.bytes.length === 0) return first
  const second = one(first.bytes)
  return { bytes: second.bytes, label: `${first.label}+${second.label}` }
}
