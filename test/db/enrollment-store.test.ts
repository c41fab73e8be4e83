import { randomBytes, randomUUID } from 'node:crypto'
import t from 'tap'
import { SerialConflictError, type IssuedCertificate } from '../../ca/index.js'
import { createEnrollmentStore, DeviceConflictError, type EnrollmentRecord } from '../../src/db/enrollment-store.js'
import { testDatabase } from '../helper.js'

const ISSUER = 'abcdef'

function certificate(profile: 'user' | 'device' = 'user', serial = randomBytes(16).toString('hex')): IssuedCertificate {
  const now = new Date()
  return { serial, der: randomBytes(64), profile, subject: 'alice@example.com', notBefore: now, notAfter: new Date(now.getTime() + 86_400_000), keyDescription: 'ecdsa-p256' }
}

function record(email: string, cert = certificate(), extra: Partial<EnrollmentRecord> = {}): EnrollmentRecord {
  return {
    user: { email, newUserId: randomUUID() },
    certificate: cert,
    supersedeProfileOfDevice: false,
    alsoSupersede: [],
    audit: [{ actor: 'test', action: 'certificate.issued', serial: cert.serial, details: {} }],
    ...extra,
  }
}

const newDevice = (name: string) => {
  const id = randomUUID()
  return { id, create: { id, name, platform: 'macos' as const, hostname: null, serialNumber: null, matchKey: `name:macos:${name.toLowerCase()}` } }
}

async function counts(db: Awaited<ReturnType<typeof testDatabase>>['db']) {
  const one = async (table: 'app_user' | 'device' | 'certificate' | 'audit_event') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n)
  return { users: await one('app_user'), devices: await one('device'), certificates: await one('certificate'), audit: await one('audit_event') }
}

t.test('group commit: one bad record in a shared transaction fails alone, and nothing of it is written', async (t) => {
  const { db } = await testDatabase(t)
  const store = createEnrollmentStore(db, () => ISSUER)
  const taken = certificate()
  await store.save(record('first@example.com', taken))
  const before = await counts(db)
  // Saved in one event-loop turn: they share one transaction, which the duplicate serial aborts.
  const results = await Promise.allSettled([
    store.save(record('a@example.com')),
    store.save(record('dup@example.com', certificate('user', taken.serial), { device: newDevice('Dup Mac') })),
    store.save(record('b@example.com')),
    store.save(record('c@example.com', certificate(), { device: newDevice('C Mac') })),
  ])
  t.same(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
  )
  t.ok((results[1] as PromiseRejectedResult).reason instanceof SerialConflictError, 'the duplicate serial is a SerialConflictError (the authority signs again)')
  const after = await counts(db)
  t.same(after, { users: before.users + 3, devices: before.devices + 1, certificates: before.certificates + 3, audit: before.audit + 3 }, 'the neighbours are stored, the bad record left no user, device or audit row')
  t.notOk(await db.selectFrom('app_user').select('id').where('email', '=', 'dup@example.com').executeTakeFirst(), 'no user for the refused record')
  t.notOk(await db.selectFrom('device').select('id').where('name', '=', 'Dup Mac').executeTakeFirst(), 'no device for the refused record')
})

t.test('group commit: a device created concurrently fails only that record, with DeviceConflictError', async (t) => {
  const { db } = await testDatabase(t)
  const store = createEnrollmentStore(db, () => ISSUER)
  const first = await store.save(record('alice@example.com', certificate(), { device: newDevice('MacBook') }))
  const before = await counts(db)
  const results = await Promise.allSettled([
    store.save(record('alice@example.com', certificate(), { user: { email: 'alice@example.com', userId: first.userId, newUserId: randomUUID() }, device: newDevice('macbook') })),
    store.save(record('bob@example.com')),
  ])
  t.equal(results[0]!.status, 'rejected')
  t.ok((results[0] as PromiseRejectedResult).reason instanceof DeviceConflictError)
  t.equal(results[1]!.status, 'fulfilled')
  t.same(await counts(db), { ...before, users: before.users + 1, certificates: before.certificates + 1, audit: before.audit + 1 })
})

t.test('supersede: the device keeps one active certificate per profile, in the same transaction, with audit events', async (t) => {
  const { db } = await testDatabase(t)
  const store = createEnrollmentStore(db, () => ISSUER)
  const device = newDevice('MacBook')
  const first = await store.save(record('alice@example.com', certificate('user'), { device }))
  const userCert = await db.selectFrom('certificate').select('serial').where('device_id', '=', device.id).executeTakeFirstOrThrow()
  const deviceCert = certificate('device')
  await store.save(record('alice@example.com', deviceCert, { user: { email: 'alice@example.com', userId: first.userId, newUserId: randomUUID() }, device: { id: device.id }, supersedeProfileOfDevice: true }))
  const again = certificate('user')
  const stored = await store.save(record('alice@example.com', again, { user: { email: 'alice@example.com', userId: first.userId, newUserId: randomUUID() }, device: { id: device.id }, supersedeProfileOfDevice: true }))
  t.same(stored.superseded, [userCert.serial], 'only the user certificate of this device is superseded')
  const rows = await db.selectFrom('certificate').select(['serial', 'profile', 'status', 'revocation_reason']).where('device_id', '=', device.id).execute()
  const bySerial = new Map(rows.map((r) => [r.serial, r]))
  t.match(bySerial.get(userCert.serial), { status: 'revoked', revocation_reason: 'superseded' })
  t.match(bySerial.get(again.serial), { status: 'active' })
  t.match(bySerial.get(deviceCert.serial), { status: 'active' }, 'the device profile is untouched')
  const event = await db.selectFrom('audit_event').selectAll().where('serial', '=', userCert.serial).where('action', '=', 'certificate.revoked').executeTakeFirstOrThrow()
  t.match(event.details, { reason: 'superseded', by: again.serial })
})

t.test('the database refuses a second active certificate per device and profile; racing enrollments end with one active', async (t) => {
  const { db } = await testDatabase(t)
  const store = createEnrollmentStore(db, () => ISSUER)
  const device = newDevice('Racer')
  const first = await store.save(record('alice@example.com', certificate('user'), { device }))
  const known = { email: 'alice@example.com', userId: first.userId, newUserId: randomUUID() }
  // Without superseding, a second active certificate is refused by the unique index (not silently stored).
  await t.rejects(store.save(record('alice@example.com', certificate('user'), { user: known, device: { id: device.id } })))
  // Five at once for the same device, superseding: all succeed, one after the other, and one stays active.
  const results = await Promise.allSettled(
    Array.from({ length: 5 }, () => store.save(record('alice@example.com', certificate('user'), { user: known, device: { id: device.id }, supersedeProfileOfDevice: true }))),
  )
  t.same(
    results.map((r) => r.status),
    Array(5).fill('fulfilled'),
    String(results.find((r) => r.status === 'rejected') && (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason),
  )
  const active = await db.selectFrom('certificate').select('serial').where('device_id', '=', device.id).where('status', '=', 'active').execute()
  t.equal(active.length, 1, 'one active certificate')
  const superseded = await db.selectFrom('certificate').select('serial').where('device_id', '=', device.id).where('revocation_reason', '=', 'superseded').execute()
  t.equal(superseded.length, 5, 'the other five superseded')
})
