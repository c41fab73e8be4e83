import 'reflect-metadata'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { parseCrl } from '../../ca/index.js'
import { deviceDetail, findDevices, findUsers, listAudit, userDetail } from '../../src/db/admin-queries.js'
import { insertSessionRecord } from '../../src/db/session-repository.js'
import { resolveDeviceRef, revokeDevice, revokeUser } from '../../src/use-cases/offboard.js'
import { build, type TestApp } from '../helper.js'

/** Issues over the API (as an MDM would), so the rows are the real ones. */
async function issue(t: Test, { app, as }: TestApp, user: string, device?: object): Promise<{ serial: string; deviceId?: string }> {
  const payload = device ? { profile: 'device', user, device, keyType: 'ecdsa-p256' } : { profile: 'user', user, keyType: 'ecdsa-p256' }
  const res = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload })
  t.equal(res.statusCode, 201, res.body)
  return res.json()
}

t.test('offboarding a device and a user; the admin queries', async (t) => {
  const kagi = await build(t)
  const { services } = kagi
  const db = services.db
  const mac = await issue(t, kagi, 'Alice@Example.com', { name: "Alice's MacBook", platform: 'macos', hostname: 'alice-mac.corp.example.com', serialNumber: 'C02XYZ' })
  const aliceUser = await issue(t, kagi, 'alice@example.com')
  const pc = await issue(t, kagi, 'alice@example.com', { name: 'Work PC', platform: 'windows', hostname: 'alice-pc.corp.example.com' })
  const bob = await issue(t, kagi, 'bob@example.com', { name: 'Bob 100%_PC', platform: 'windows', hostname: 'bob-pc.corp.example.com', serialNumber: 'SN-BOB' })
  await insertSessionRecord(db, { id: 's1', email: 'alice@example.com', via: 'saml', admin: false, ip: '10.0.0.1', userAgent: 'Safari' }, new Date(Date.now() - 60_000))
  await insertSessionRecord(db, { id: 's2', email: 'alice@example.com', via: 'saml', admin: false }, new Date())

  t.test('findDevices: prefix search on each field', async (t) => {
    const ids = async (q: string, extra: object = {}) => (await findDevices(db, { q, limit: 50, offset: 0, ...extra })).devices.map((d) => d.id).sort()
    t.same(await ids('alice-M'), [mac.deviceId], 'hostname, case-insensitive')
    t.same(await ids("alice's"), [mac.deviceId], 'name')
    t.same(await ids('c02x'), [mac.deviceId], 'hardware serial number')
    t.same(await ids('ALICE@'), [mac.deviceId, pc.deviceId].sort(), 'owner email')
    t.same(await ids(bob.serial.slice(0, 6).toUpperCase()).then((r) => r.includes(bob.deviceId!)), true, 'certificate serial prefix')
    t.same(await ids('lice'), [], 'a prefix, not a substring')
    t.same(await ids('bob 100%_'), [bob.deviceId], 'LIKE wildcards are literal')
    t.same(await ids('bob 1_0'), [], 'an underscore matches only an underscore')
    t.same(await ids('alice', { platform: 'windows' }), [pc.deviceId], 'platform filter')
    t.same(await ids('alice', { user: 'bob@example.com' }), [], 'user filter')
    const all = await findDevices(db, { limit: 2, offset: 0 })
    t.equal(all.total, 3)
    t.equal(all.devices.length, 2, 'limit')
    t.equal((await findDevices(db, { limit: 2, offset: 2 })).devices.length, 1, 'offset')
    const summary = (await findDevices(db, { q: 'C02XYZ', limit: 1, offset: 0 })).devices[0]!
    t.match(summary, { name: "Alice's MacBook", platform: 'macos', hostname: 'alice-mac.corp.example.com', serialNumber: 'C02XYZ', user: 'alice@example.com', activeCertificates: 1 })
    t.ok(summary.createdAt instanceof Date)
  })

  t.test('findUsers and userDetail', async (t) => {
    const { users, total } = await findUsers(db, { q: 'AL', limit: 10, offset: 0 })
    t.equal(total, 1)
    t.match(users[0], { email: 'alice@example.com', devices: 2, activeCertificates: 3 })
    t.ok(users[0]!.lastSignIn instanceof Date, 'newest sign-in')
    t.equal((await findUsers(db, { limit: 10, offset: 0 })).total, 2)
    const detail = (await userDetail(db, 'ALICE@example.com'))!
    t.equal(detail.devices.length, 2)
    t.equal(detail.certificates.length, 3)
    t.same(detail.signIns.map((s) => s.id), ['s2', 's1'], 'sign-ins newest first')
    t.match(detail.signIns[1], { via: 'saml', ip: '10.0.0.1', userAgent: 'Safari', endedAt: null })
    t.equal(await userDetail(db, 'nobody@example.com'), undefined)
  })

  t.test('revokeDevice', async (t) => {
    t.same(await revokeDevice(services, mac.deviceId!, 'keyCompromise', 'test'), [mac.serial])
    t.same(await revokeDevice(services, mac.deviceId!, 'keyCompromise', 'test'), [], 'nothing left to revoke')
    await t.rejects(revokeDevice(services, '00000000-0000-4000-8000-000000000000', 'keyCompromise', 'test'), { code: 'not_found' })
    await t.rejects(revokeDevice(services, 'not-a-uuid', 'keyCompromise', 'test'), { code: 'not_found' })
    const detail = (await deviceDetail(db, mac.deviceId!))!
    t.equal(detail.device.activeCertificates, 0)
    t.match(detail.certificates, [{ serial: mac.serial, status: 'revoked', revocationReason: 'keyCompromise', deviceName: "Alice's MacBook", platform: 'macos' }])
    t.same(
      detail.history.map((e) => e.action),
      ['device.revoked', 'device.revoked', 'certificate.revoked', 'certificate.issued'],
      'history: summaries (with the device id) and the certificate events',
    )
    t.same(detail.history[1]!.details, { deviceId: mac.deviceId, reason: 'keyCompromise', serials: [mac.serial] })
    t.equal(await deviceDetail(db, 'nope'), undefined)
    t.equal(await resolveDeviceRef(services, 'C02XYZ'), mac.deviceId)
    t.equal(await resolveDeviceRef(services, mac.deviceId!.toUpperCase()), mac.deviceId)
    await t.rejects(resolveDeviceRef(services, 'NOPE'), { code: 'not_found' })
  })

  t.test('revokeUser', async (t) => {
    const revoked = await revokeUser(services, 'Alice@example.com', 'affiliationChanged', 'test')
    t.same(revoked.sort(), [aliceUser.serial, pc.serial].sort(), 'the active ones, not the one already revoked')
    const rows = await db.selectFrom('certificate').select(['serial', 'status', 'revocation_reason']).where('serial', 'in', revoked).execute()
    t.ok(rows.every((r) => r.status === 'revoked' && r.revocation_reason === 'affiliationChanged'))
    const open = await db.selectFrom('web_session').select('id').where('email', '=', 'alice@example.com').where('ended_at', 'is', null).execute()
    t.same(open, [], 'sessions ended')
    const crl = parseCrl((await kagi.app.inject({ url: '/pki/crl' })).rawPayload)
    t.same(crl.entries.map((e) => e.serial).sort(), [mac.serial, ...revoked].sort(), 'the CRL lists them')
    t.same(await revokeUser(services, 'alice@example.com', 'affiliationChanged', 'test'), [])
    await t.rejects(revokeUser(services, 'nobody@example.com', 'affiliationChanged', 'test'), { code: 'not_found' })
    t.equal((await findDevices(db, { q: 'bob', limit: 5, offset: 0 })).devices[0]!.activeCertificates, 1, "bob's device untouched")
  })

  t.test('listAudit filters', async (t) => {
    const actions = async (filter: object) => (await listAudit(db, { limit: 100, offset: 0, ...filter })).events.map((e) => e.action)
    const byUser = await actions({ user: 'alice@example.com' })
    t.ok(byUser.includes('user.revoked') && byUser.includes('session.ended') && byUser.includes('certificate.issued'), byUser.join())
    t.notOk((await listAudit(db, { user: 'alice@example.com', limit: 100, offset: 0 })).events.some((e) => e.serial === bob.serial), "not bob's")
    t.same(await actions({ device: bob.deviceId }), ['certificate.issued'])
    t.same(await actions({ device: 'garbage' }), [])
    t.ok((await actions({ type: 'certificate.' })).every((a) => a.startsWith('certificate.')))
    t.ok((await actions({ type: 'certificate' })).length >= 6, 'a family without its dot')
    t.same(await actions({ type: 'certificate.rev' }), [], 'exact unless it ends in a dot')
    t.same([...new Set(await actions({ type: 'user.revoked' }))], ['user.revoked'])
    t.same([...new Set(await actions({ actor: 'test', type: 'device.' }))], ['device.revoked'])
    t.same(await actions({ since: new Date(Date.now() + 60_000) }), [])
    t.same(await actions({ until: new Date(0) }), [])
    const page = await listAudit(db, { limit: 2, offset: 1 })
    t.equal(page.events.length, 2)
    t.ok(page.total > 8)
    const newest = (await listAudit(db, { limit: 100, offset: 0 })).events
    // Newest first in the chain's order (seq, migration 0013): "at" is each transaction's start time, so two
    // concurrent transactions may commit their events in the other order.
    const bySeq = await sql<{ id: string | number }>`select id from audit_event order by seq desc limit 100`.execute(db)
    t.same(newest.map((e) => e.id), bySeq.rows.map((r) => String(r.id)), 'newest first')
    t.type(newest[0]!.id, 'string')
  })
})
