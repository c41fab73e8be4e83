import 'reflect-metadata'
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.js'
import { RsaKeyPool, type KeyPair } from '../../src/keys/rsa-key-pool.js'
import { enroll, issueEnrollment } from '../../src/use-cases/enroll.js'
import { build } from '../helper.js'

/** A stand-in generator: numbered fake key pairs, counting calls and the most in flight at once. */
function fakeGenerator(options: { fail?: boolean } = {}) {
  const counts = { made: 0, active: 0, maxActive: 0 }
  const generate = async (): Promise<KeyPair> => {
    const id = ++counts.made
    counts.active++
    counts.maxActive = Math.max(counts.maxActive, counts.active)
    await sleep(1)
    counts.active--
    if (options.fail) throw new Error('no entropy today')
    return { privateKey: { id } as unknown as KeyObject, publicKey: { id } as unknown as KeyObject }
  }
  return { counts, generate }
}

/** Waits (bounded) until `condition` holds; fails the test with `what` otherwise. */
async function until(condition: () => boolean, what: string, maxMs = 60_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited >= maxMs) throw new Error(`gave up waiting for ${what}`)
    await sleep(10)
  }
}

t.test('ok/fills-to-target-and-never-beyond', async (t) => {
  const fake = fakeGenerator()
  const pool = new RsaKeyPool({ size: 5, concurrency: 2, startDelayMs: 0, quietMs: 0, generate: fake.generate })
  t.teardown(() => pool.stop())
  pool.start()
  await until(() => pool.stats().available === 5, 'the pool to fill')
  // Given the chance to overshoot, it does not.
  await sleep(50)
  t.same(pool.stats(), { available: 5, target: 5, taken: { pool: 0, generated: 0 } })
  t.equal(fake.counts.made, 5, 'exactly the target was generated')
  t.equal(fake.counts.maxActive, 2, 'at most `concurrency` generations at once')
})

t.test('ok/each-key-handed-out-once-and-refilled', async (t) => {
  const fake = fakeGenerator()
  const pool = new RsaKeyPool({ size: 3, startDelayMs: 0, quietMs: 0, generate: fake.generate })
  t.teardown(() => pool.stop())
  pool.start()
  await until(() => pool.stats().available === 3, 'the pool to fill')
  const handedOut = []
  for (let i = 0; i < 8; i++) handedOut.push(await pool.take())
  t.equal(new Set(handedOut.map((pair) => pair.privateKey)).size, 8, 'eight takes, eight different keys')
  const { taken } = pool.stats()
  t.equal(taken.pool + taken.generated, 8)
  t.ok(taken.pool >= 3, 'the pooled keys were used first')
  await until(() => pool.stats().available === 3, 'the pool to refill')
  await sleep(50)
  t.equal(pool.stats().available, 3, 'refilled to the target, not beyond')
  t.equal(fake.counts.made, taken.pool + taken.generated + 3, 'every generated key was handed out once or is in the pool')
})

t.test('ok/no-refill-during-a-burst', async (t) => {
  const fake = fakeGenerator()
  const pool = new RsaKeyPool({ size: 3, startDelayMs: 0, quietMs: 60_000, generate: fake.generate })
  t.teardown(() => pool.stop())
  pool.start()
  await until(() => pool.stats().available === 3, 'the pool to fill')
  await pool.take()
  await sleep(50)
  t.equal(pool.stats().available, 2, 'filling waits for quiet after a take')
  t.equal(fake.counts.made, 3)
})

t.test('ok/size-0-never-generates-in-the-background', async (t) => {
  const fake = fakeGenerator()
  const pool = new RsaKeyPool({ size: 0, startDelayMs: 0, quietMs: 0, generate: fake.generate })
  t.teardown(() => pool.stop())
  pool.start()
  await sleep(50)
  t.equal(fake.counts.made, 0)
  await pool.take()
  t.equal(fake.counts.made, 1, 'take() generates on demand')
  await sleep(50)
  t.same(pool.stats(), { available: 0, target: 0, taken: { pool: 0, generated: 1 } })
})

t.test('ok/nothing-before-start-or-during-the-start-delay', async (t) => {
  const fake = fakeGenerator()
  const unstarted = new RsaKeyPool({ size: 3, startDelayMs: 0, quietMs: 0, generate: fake.generate })
  const delayed = new RsaKeyPool({ size: 3, startDelayMs: 60_000, quietMs: 0, generate: fake.generate })
  t.teardown(() => Promise.all([unstarted.stop(), delayed.stop()]))
  delayed.start()
  await unstarted.take()
  await sleep(50)
  t.equal(fake.counts.made, 1, 'only the on-demand key (a CLI command never starts the pool)')
  t.equal(unstarted.stats().available, 0)
  t.equal(delayed.stats().available, 0)
})

t.test('ok/stop-empties-and-stops-filling', async (t) => {
  const fake = fakeGenerator()
  const pool = new RsaKeyPool({ size: 4, startDelayMs: 0, quietMs: 0, generate: fake.generate })
  pool.start()
  await until(() => pool.stats().available === 4, 'the pool to fill')
  await pool.take()
  // A refill may be in flight now; its key must be dropped too.
  await pool.stop()
  const made = fake.counts.made
  t.equal(pool.stats().available, 0, 'no key is held after stop()')
  await sleep(50)
  t.equal(pool.stats().available, 0)
  t.equal(fake.counts.made, made, 'no generation after stop()')
  t.equal(fake.counts.active, 0, 'stop() waited for the generations in flight')
})

t.test('fail/generation-error-is-reported', async (t) => {
  const fake = fakeGenerator({ fail: true })
  const errors: unknown[] = []
  const pool = new RsaKeyPool({ size: 2, concurrency: 1, startDelayMs: 0, quietMs: 0, generate: fake.generate, onError: (error) => errors.push(error) })
  t.teardown(() => pool.stop())
  pool.start()
  await until(() => errors.length > 0, 'the failure to be reported')
  await sleep(50)
  t.equal(fake.counts.made, 1, 'no tight retry loop')
  t.equal(pool.stats().available, 0)
  await t.rejects(pool.take(), { message: 'no entropy today' }, 'an on-demand failure reaches the caller')
})

t.test('fail/bad-size', async (t) => {
  t.throws(() => new RsaKeyPool({ size: -1 }), RangeError)
  t.throws(() => new RsaKeyPool({ size: 1.5 }), RangeError)
})

t.test('ok/real-rsa-2048-keys', async (t) => {
  const pool = new RsaKeyPool({ size: 2, startDelayMs: 0, quietMs: 60_000 })
  t.teardown(() => pool.stop())
  pool.start()
  await until(() => pool.stats().available === 2, 'two real keys')
  const pairs = [await pool.take(), await pool.take(), await pool.take()]
  t.same(pool.stats().taken, { pool: 2, generated: 1 }, 'the third came from an empty pool, generated on demand')
  const spkis = pairs.map((pair) => pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'))
  t.equal(new Set(spkis).size, 3, 'three different keys')
  for (const { privateKey, publicKey } of pairs) {
    t.equal(privateKey.asymmetricKeyType, 'rsa')
    t.equal(privateKey.asymmetricKeyDetails?.modulusLength, 2048)
    t.same(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }), publicKey.export({ type: 'spki', format: 'der' }), 'the public key is the private key’s')
    const signature = sign('sha256', Buffer.from('kagi'), privateKey)
    t.ok(verify('sha256', Buffer.from('kagi'), publicKey, signature))
  }
})

t.test('config/KAGI_KEY_POOL_SIZE', async (t) => {
  t.equal(loadConfig({}).keyPoolSize, 800, 'default: one morning')
  t.equal(loadConfig({ KAGI_KEY_POOL_SIZE: '0' }).keyPoolSize, 0, '0 disables')
  t.equal(loadConfig({ KAGI_KEY_POOL_SIZE: '' }).keyPoolSize, 800, 'empty means unset')
  for (const bad of ['-1', '1.5', 'many', '10001']) {
    let caught: unknown
    try {
      loadConfig({ KAGI_KEY_POOL_SIZE: bad })
    } catch (error) {
      caught = error
    }
    t.ok(caught instanceof ConfigError && /KAGI_KEY_POOL_SIZE/.test(caught.message), `fail/${bad}: a ConfigError naming the variable`)
  }
})

/** The value of one sample in the /metrics text, 0 when absent. */
function sample(text: string, line: string): number {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `))
  return found ? Number(found.slice(line.length + 1)) : 0
}

t.test('ok/enrollment-takes-pooled-rsa-keys', async (t) => {
  const { services, app } = await build(t, { env: { KAGI_KEY_POOL_SIZE: '2' } })
  // The real pool fills after its start delay (10 s); this waits for it, bounded.
  await until(() => services.keyPool.stats().available === 2, 'the pool to fill', 120_000)
  const actor = { label: 'cli', role: 'admin' } as const
  const rsa = await enroll(services, issueEnrollment({ profile: 'user', user: 'alice@example.com', keyType: 'rsa-2048' }, actor))
  t.ok(rsa.pkcs12, 'a PKCS#12 with the pooled key')
  await enroll(services, issueEnrollment({ profile: 'user', user: 'bob@example.com', keyType: 'ecdsa-p256' }, actor))
  const text = (await app.inject({ url: '/metrics' })).body
  t.equal(sample(text, 'kagi_key_pool_target'), 2)
  t.equal(sample(text, 'kagi_key_pool_taken_total{source="pool"}'), 1, 'the RSA enrollment took a pooled key')
  t.equal(sample(text, 'kagi_key_pool_taken_total{source="generated"}'), 0, 'ECDSA keys are not pooled')
  t.ok(sample(text, 'kagi_key_pool_available') <= 1, 'the key left the pool')
})

t.test('ok/enrollment-without-a-pool-generates', async (t) => {
  const { app, as } = await build(t, { env: { KAGI_KEY_POOL_SIZE: '0' } })
  const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: { profile: 'user', user: 'carol@example.com' } })
  // Not res.body as the message: it holds the PKCS#12 and its password.
  t.equal(res.statusCode, 201, res.statusCode === 201 ? 'issued' : res.body)
  const text = (await app.inject({ url: '/metrics' })).body
  t.equal(sample(text, 'kagi_key_pool_target'), 0)
  t.equal(sample(text, 'kagi_key_pool_available'), 0)
  t.equal(sample(text, 'kagi_key_pool_taken_total{source="generated"}'), 1)
  t.equal(sample(text, 'kagi_key_pool_taken_total{source="pool"}'), 0)
})
