import 'reflect-metadata'
import { createPublicKey } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { FileMigrationProvider, Migrator, sql, type Kysely } from 'kysely'
import t, { type Test } from 'tap'
import { certificateInfo, serialToHex, spkiOf } from '../../ca/index.js'
import { openDatabase } from '../../src/db/connect.js'
import type { Database, ServiceCredentialPurpose } from '../../src/db/database.js'
import { migrationsDir } from '../../src/db/migrator.js'
import type { Log } from '../../src/revocation/crl-publisher.js'
import { initCa, type LoadedCa } from '../../src/startup/ca-loader.js'
import { createServices } from '../../src/startup/services.js'
import {
  ocspResponderCredential,
  profileSignerCredential,
  ServiceCredential,
  type ServiceCredentialKind,
} from '../../src/use-cases/service-credentials.js'
import { freshPostgresUrl, testConfig, testDatabase } from '../helper.js'

const DAY = 86_400_000

/** A database with a CA, a settable clock, and a factory of credentials sharing them. */
async function setup(t: Test) {
  const config = testConfig(t)
  const passphrase = config.caPassphrase!
  const { db } = await testDatabase(t)
  let time = Date.now()
  const clock = () => new Date(time)
  const issued: string[] = []
  const log: Log = { info: (_, message) => issued.push(message), warn: () => {}, error: () => {} }
  const credentialFor = (kind: ServiceCredentialKind, ca: LoadedCa) => {
    // The authority of the real wiring, signing with the same clock.
    const { authority } = createServices(config, db, ca, { clock, passphrase, exportCrls: false })
    return new ServiceCredential(db, kind, { authority, chain: [ca.issuing.der, ca.root.der], passphrase, log, now: clock })
  }
  const { ca } = await initCa(db, config, passphrase)
  return {
    db,
    ca,
    issued,
    credentialFor,
    rotateCa: async () => (await initCa(db, config, passphrase, { force: true })).ca,
    setTime: (at: number) => (time = at),
    rows: (purpose: ServiceCredentialPurpose) => db.selectFrom('service_credential').selectAll().where('purpose', '=', purpose).orderBy('not_after').execute(),
    audits: (action: string) => db.selectFrom('audit_event').select(['serial']).where('action', '=', action).execute(),
  }
}

for (const kind of [ocspResponderCredential, profileSignerCredential]) {
  t.test(`${kind.purpose}: issued on first use, stored once, reused by another instance`, async (t) => {
    const s = await setup(t)
    const first = s.credentialFor(kind, s.ca)
    const [a, b] = await Promise.all([first.get(), first.get()])
    t.equal(a, b, 'concurrent callers share one issuance')
    const rows = await s.rows(kind.purpose)
    t.equal(rows.length, 1, 'one row')
    t.same((await s.audits(kind.auditAction)).map((r) => r.serial), [rows[0]!.serial], `one ${kind.auditAction} audit event`)
    t.same(s.issued, [kind.issuedMessage], 'logged once')
    const info = certificateInfo(a.certificate)
    t.equal(serialToHex(info.serial), rows[0]!.serial)
    t.equal(rows[0]!.ca_serial, serialToHex(s.ca.issuing.serial), 'belongs to the issuing CA')
    t.ok(info.publicKeyInfo.equals(spkiOf(createPublicKey(a.privateKey))), 'the key matches the certificate')
    t.same(a.chain, [s.ca.issuing.der, s.ca.root.der])
    t.equal(await first.get(), a, 'the same object while it is fresh')

    const restarted = await s.credentialFor(kind, s.ca).get()
    t.not(restarted, a)
    t.ok(restarted.certificate.equals(a.certificate), 'another instance (replica, restart) loads the same certificate')
    t.ok(spkiOf(createPublicKey(restarted.privateKey)).equals(spkiOf(createPublicKey(a.privateKey))), 'and decrypts the same key')
    t.equal(restarted.notAfter.getTime(), a.notAfter.getTime())
    t.equal((await s.rows(kind.purpose)).length, 1, 'nothing issued')

    const other = kind === ocspResponderCredential ? profileSignerCredential : ocspResponderCredential
    const otherCredential = await s.credentialFor(other, s.ca).get()
    t.not(serialToHex(certificateInfo(otherCredential.certificate).serial), rows[0]!.serial, 'purposes never share a row')
  })

  t.test(`${kind.purpose}: renewed within ${kind.renewBeforeMs / DAY} days of expiry`, async (t) => {
    const s = await setup(t)
    const credential = s.credentialFor(kind, s.ca)
    const original = await credential.get()
    s.setTime(original.notAfter.getTime() - kind.renewBeforeMs - DAY)
    t.equal(await credential.get(), original, 'kept outside the window')
    t.ok((await s.credentialFor(kind, s.ca).get()).certificate.equals(original.certificate), 'and loaded by another instance')
    s.setTime(original.notAfter.getTime() - kind.renewBeforeMs + DAY)
    const renewed = await credential.get()
    t.notOk(renewed.certificate.equals(original.certificate), 'a new certificate inside the window')
    t.ok(renewed.notAfter > original.notAfter)
    t.equal((await s.rows(kind.purpose)).length, 2, 'the old row stays (history)')
    t.equal((await s.audits(kind.auditAction)).length, 2)
    t.ok((await s.credentialFor(kind, s.ca).get()).certificate.equals(renewed.certificate), 'another instance now loads the renewed one')
  })
}

t.test('credentials of a retired issuing CA are not used', async (t) => {
  const s = await setup(t)
  const old = await s.credentialFor(profileSignerCredential, s.ca).get()
  const rotated = await s.rotateCa()
  const current = await s.credentialFor(profileSignerCredential, rotated).get()
  t.notOk(current.certificate.equals(old.certificate), 'a new certificate for the new CA')
  const rows = await s.rows('profile-signer')
  t.same(rows.map((r) => r.ca_serial).sort(), [serialToHex(s.ca.issuing.serial), serialToHex(rotated.issuing.serial)].sort())
  t.ok(certificateInfo(current.certificate).issuer.equals(rotated.issuing.subject), 'signed by the new issuing CA')
})

/** A database migrated up to (and including) `last`, with the migrator to go on. */
async function databaseAt(t: Test, last: string): Promise<{ db: Kysely<any>; migrator: Migrator }> {
  const handle = process.env.DATABASE_URL
    ? await openDatabase({ url: await freshPostgresUrl(t), dataDir: '' })
    : await openDatabase({ dataDir: '', memory: true })
  t.teardown(() => handle.close())
  const migrator = new Migrator({ db: handle.db, provider: new FileMigrationProvider({ fs, path, migrationFolder: migrationsDir }) })
  const { error } = await migrator.migrateTo(last)
  if (error) throw error
  return { db: handle.db, migrator }
}

t.test('migration 0011 moves the rows of ocsp_responder and profile_signer into service_credential, and back', async (t) => {
  const names = (await fs.readdir(migrationsDir)).filter((f) => /^\d{4}_.*\.ts$/.test(f)).map((f) => f.replace(/\.ts$/, '')).sort()
  const index = names.indexOf('0011_create_service_credential')
  const { db, migrator } = await databaseAt(t, names[index - 1]!)
  const createdAt = new Date('2025-01-02T03:04:05.000Z')
  const old = {
    ocsp_responder: { serial: 'aa01', ca_serial: 'ca01', der: Buffer.from([1, 2, 3]), encrypted_key: 'ocsp-key', not_after: new Date('2025-01-09T00:00:00.000Z'), created_at: createdAt },
    profile_signer: { serial: 'bb02', ca_serial: 'ca01', der: Buffer.from([4, 5, 6]), encrypted_key: 'profile-key', not_after: new Date('2026-01-02T00:00:00.000Z'), created_at: createdAt },
  }
  for (const [table, row] of Object.entries(old)) await db.insertInto(table).values(row).execute()

  const up = await migrator.migrateUp()
  if (up.error) throw up.error
  t.same(up.results?.map((r) => r.migrationName), ['0011_create_service_credential'])
  const moved = await (db as Kysely<Database>).selectFrom('service_credential').selectAll().orderBy('serial').execute()
  t.same(
    moved.map((r) => ({ ...r, der: Buffer.from(r.der), not_after: new Date(r.not_after), created_at: new Date(r.created_at) })),
    [
      { purpose: 'ocsp-responder', ...old.ocsp_responder },
      { purpose: 'profile-signer', ...old.profile_signer },
    ],
    'every column copied, purpose from the table',
  )
  const { rows: tables } = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_name in ('ocsp_responder', 'profile_signer')`.execute(db)
  t.same(tables, [], 'the old tables are gone')

  const down = await migrator.migrateDown()
  if (down.error) throw down.error
  for (const [table, row] of Object.entries(old)) {
    const back = await db.selectFrom(table).selectAll().execute()
    t.same(back.map((r) => ({ ...r, der: Buffer.from(r.der), not_after: new Date(r.not_after), created_at: new Date(r.created_at) })), [row], `down restores ${table}`)
  }
})
