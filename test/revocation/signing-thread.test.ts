import { generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import t from 'tap'
import { verifyCsr, verifyCsrOffThread } from '../../ca/index.js'
import { children, readOne } from '../../ca/der.js'
import { SigningThread } from '../../src/revocation/signing-thread.js'
import { opensslCsr, run, tempDir } from '../support/openssl.js'

/**
 * The signing thread signs what it is given with the key it is given, every
 * job answered with its own signature however many are in flight, and every
 * job is still answered (in place) when the ring cannot take it, when the
 * thread has been stopped and when the thread dies with jobs in it.
 */

const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })

/** Signs each datum concurrently and checks every signature against its own datum. */
async function signAll(thread: SigningThread, hash: string, pair: { privateKey: KeyObject; publicKey: KeyObject }, data: Buffer[]): Promise<number> {
  const signatures = await Promise.all(data.map((datum) => thread.sign(hash, datum, pair.privateKey)))
  return signatures.filter((signature, i) => verify(hash, data[i]!, pair.publicKey, signature)).length
}

const data = (n: number, size = 300): Buffer[] => Array.from({ length: n }, () => randomBytes(size))

t.test('signing thread', async (t) => {
  const thread = new SigningThread()
  t.teardown(() => thread.stop())

  await t.test('ok/each-job-gets-its-own-signature', async (t) => {
    t.equal(await signAll(thread, 'sha256', ec256, data(1)), 1, 'a first job, while the thread starts')
    t.equal(await signAll(thread, 'sha256', ec256, data(64)), 64, '64 in flight at once')
  })

  await t.test('ok/other-keys-and-hashes', async (t) => {
    t.equal(await signAll(thread, 'sha384', ec384, data(20)), 20, 'P-384 with SHA-384')
    t.equal(await signAll(thread, 'sha256', rsa, data(10)), 10, 'RSA-2048 (a 256-byte signature)')
    // The same key asked with another hash than it was sent with: signed in place, still right.
    t.equal(await signAll(thread, 'sha384', ec256, data(5)), 5, 'a key with a second hash')
  })

  await t.test('ok/more-than-the-ring-and-larger-than-a-slot-are-signed-in-place', async (t) => {
    t.equal(await signAll(thread, 'sha256', ec256, data(400)), 400, '400 in flight (the ring holds 128)')
    t.equal(await signAll(thread, 'sha256', ec256, data(3, 20_000)), 3, '20,000-byte data')
  })

  await t.test('ok/signatures-are-checked-each-against-its-own-data', async (t) => {
    const pairs = [ec256, ec384, rsa]
    const jobs = Array.from({ length: 90 }, (_, i) => {
      const pair = pairs[i % 3]!
      const hash = pair === ec384 ? 'sha384' : 'sha256'
      const datum = randomBytes(200)
      const signature = sign(hash, datum, pair.privateKey)
      // Every third one is checked against other data, every fifth carries bytes that are no signature at all.
      const checked = i % 3 === 1 ? randomBytes(200) : datum
      const given = i % 5 === 4 ? randomBytes(40) : signature
      return { hash, pair, checked, given, valid: checked === datum && given === signature }
    })
    const results = await Promise.all(jobs.map((job) => thread.verify(job.hash, job.checked, job.pair.publicKey, job.given)))
    t.same(results, jobs.map((job) => job.valid))
    t.ok(jobs.some((job) => job.valid) && jobs.some((job) => !job.valid))
  })

  await t.test('ok/a-csr-checked-on-the-thread-is-refused-and-accepted-as-verifyCsr-does', async (t) => {
    const dir = tempDir(t)
    const der = (pem: string): Buffer => Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64')
    const good = opensslCsr(dir.dir, 'ec:P-256')
    const badSignature = der(good)
    badSignature[badSignature.length - 5] = badSignature[badSignature.length - 5]! ^ 0x01
    // The key's point moved off the curve (its last byte, y's): imported on the thread, refused as verifyCsr refuses it.
    const offCurve = der(good)
    const spki = children(children(readOne(offCurve))[0]!)[2]!
    const pointEnd = spki.raw.byteOffset - offCurve.byteOffset + spki.raw.length
    offCurve[pointEnd - 1] = offCurve[pointEnd - 1]! ^ 0x01
    const sha1 = run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-sha1', '-keyout', dir.file('sha1.key', ''), '-subj', '/CN=x'])
    t.equal(sha1.status, 0, sha1.stderr)
    const csrs: [string, string | Buffer][] = [
      ['ok/p256', good],
      ['ok/p384', opensslCsr(dir.dir, 'ec:P-384')],
      ['ok/rsa-2048', opensslCsr(dir.dir, 'rsa:2048')],
      ['fail/bad-signature', badSignature],
      ['fail/point-off-curve', offCurve],
      ['fail/sha1', sha1.stdout],
      ['fail/rsa-1024', opensslCsr(dir.dir, 'rsa:1024')],
      ['fail/not-pem', 'hello'],
    ]
    const onThread = (csr: string | Buffer) => verifyCsrOffThread(csr, (hash, data, key, signature) => thread.verify(hash, data, key, signature))
    const outcome = async (check: () => unknown): Promise<unknown> => {
      try {
        return { accepted: await check() }
      } catch (error) {
        return { refused: (error as { code?: string }).code, message: (error as Error).message }
      }
    }
    for (const [name, csr] of csrs) {
      const expected = await outcome(() => verifyCsr(csr))
      t.same(await outcome(() => onThread(csr)), expected, name)
      t.equal(name.startsWith('ok/'), 'accepted' in (expected as object), `${name} is ${name.startsWith('ok/') ? 'accepted' : 'refused'}`)
    }
  })

  await t.test('ok/more-keys-than-the-thread-keeps', async (t) => {
    const pairs = Array.from({ length: 12 }, () => generateKeyPairSync('ec', { namedCurve: 'P-256' }))
    // Each key in turn, twice round: the oldest are forgotten by the thread and sent again.
    for (const round of [1, 2]) {
      const counts = await Promise.all(pairs.map((pair) => signAll(thread, 'sha256', pair, data(4))))
      t.same(counts, pairs.map(() => 4), `round ${round}`)
    }
  })
})

t.test('ok/a-stopped-thread-signs-in-place', async (t) => {
  const thread = new SigningThread()
  t.equal(await signAll(thread, 'sha256', ec256, data(8)), 8)
  await thread.stop()
  t.equal(await signAll(thread, 'sha256', ec256, data(8)), 8, 'after stop')
  const datum = randomBytes(50)
  t.equal(await thread.verify('sha256', datum, ec256.publicKey, sign('sha256', datum, ec256.privateKey)), true, 'a check after stop')
  t.equal(await thread.verify('sha256', datum, ec256.publicKey, randomBytes(30)), false, 'a bad signature after stop')
})

t.test('ok/jobs-owed-by-a-thread-that-dies-are-signed-in-place', async (t) => {
  const warnings: string[] = []
  const thread = new SigningThread({ warn: (_object, message) => warnings.push(message) })
  t.equal(await signAll(thread, 'sha256', ec256, data(2)), 2)
  const pending = data(300)
  const signing = signAll(thread, 'sha256', ec256, pending)
  // The thread ends with most of the jobs still in the ring: its exit hands them back.
  await thread['worker']!.terminate()
  t.equal(await signing, 300, 'every job answered')
  t.equal(await signAll(thread, 'sha256', ec256, data(4)), 4, 'and every later one')
  t.same(warnings, [], 'an exit is no failure to warn about')
  await thread.stop()
})
