import { createPublicKey, type KeyObject } from 'node:crypto'
import { sql } from 'kysely'
import t from 'tap'
import { decryptPrivateKeyAsync, serialToHex } from '../../ca/index.js'
import { openDatabase, PGLITE_SHARED_BUFFERS } from '../../src/db/connect.js'
import { findActiveCas } from '../../src/db/ca-repository.js'
import { ensureCa, initCa, loadCa, prepareHierarchy } from '../../src/startup/ca-loader.js'
import { openRuntime, runtimeServices } from '../../src/startup/runtime.js'
import { databaseKind, freshPostgresUrl, testConfig, testDatabase } from '../helper.js'

// A first start generates and encrypts the CA while the database opens (src/startup/runtime.ts, prepareCa),
// and a restart decrypts the issuing key while migrations are checked: still exactly one CA, every key encrypted.

const spki = (key: KeyObject): string => createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('hex')

t.test('a prepared hierarchy is stored once, even by starts racing, and every stored key decrypts to the key in use', async (t) => {
  const database = await testDatabase(t)
  const config = testConfig(t)
  const passphrase = config.caPassphrase!
  const prepared = [prepareHierarchy(config, passphrase), prepareHierarchy(config, passphrase)]
  const [a, b] = await Promise.all(prepared.map((p) => ensureCa(database.db, config, passphrase, { prepared: p })))
  const rows = await findActiveCas(database.db)
  t.equal(rows.length, 2, 'one root and one issuing CA are active')
  t.equal([a, b].filter((ca) => ca!.created).length, 1, 'exactly one start created it')
  t.equal(serialToHex(a!.issuing.serial), serialToHex(b!.issuing.serial), 'both starts use the same issuing CA')
  const winner = (await prepared[a!.created ? 0 : 1])!
  const issuingRow = rows.find((r) => r.role === 'issuing')!
  t.equal(issuingRow.encrypted_key, winner.rows.find((r) => r.role === 'issuing')!.encryptedKey, 'the prepared encryption is what was stored')
  for (const row of rows) {
    t.match(row.encrypted_key, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/, `${row.role} key stored encrypted`)
    await t.resolves(decryptPrivateKeyAsync(row.encrypted_key, passphrase), `${row.role} key decrypts with the passphrase`)
  }
  const stored = await decryptPrivateKeyAsync(issuingRow.encrypted_key, passphrase)
  t.equal(spki(a!.issuingKey), spki(stored), 'the creator signs with the stored key')
  t.equal(spki(b!.issuingKey), spki(stored), 'the other start too')
  await t.rejects(loadCa(database.db, 'a-wrong-passphrase-0123456789'), { code: 'ca_passphrase_wrong' }, 'a wrong passphrase is still refused')
})

t.test('a prepared hierarchy made for another configuration is not used', async (t) => {
  const database = await testDatabase(t)
  const config = testConfig(t)
  const passphrase = config.caPassphrase!
  const other = prepareHierarchy({ ...config, publicUrl: 'http://elsewhere.test' }, passphrase)
  const { created, ca } = await initCa(database.db, config, passphrase, { prepared: other })
  t.ok(created)
  t.equal(ca.publicUrl, config.publicUrl, 'stored with the configured URL')
  t.not(serialToHex(ca.issuing.serial), (await other)!.rows.find((r) => r.role === 'issuing')!.serial, 'a new hierarchy was made')
})

t.test('a stale known key is not used: the stored one is decrypted', async (t) => {
  const database = await testDatabase(t)
  const config = testConfig(t)
  const passphrase = config.caPassphrase!
  const first = await initCa(database.db, config, passphrase)
  const replaced = await initCa(database.db, config, passphrase, { force: true })
  const row = (await findActiveCas(database.db)).find((r) => r.role === 'issuing')!
  t.not(spki(first.ca.issuingKey), spki(replaced.ca.issuingKey))
  const loaded = await loadCa(database.db, passphrase, { encryptedKey: 'not the stored text', key: first.ca.issuingKey })
  t.equal(spki(loaded!.issuingKey), spki(await decryptPrivateKeyAsync(row.encrypted_key, passphrase)))
})

t.test('kagi serve\'s runtime: the first start prepares the CA, a restart decrypts the issuing key early; both give one CA', async (t) => {
  const env: Record<string, string> = databaseKind === 'postgres' ? { DATABASE_URL: await freshPostgresUrl(t) } : {}
  const config = testConfig(t, env)
  const first = await openRuntime(config, 'test', { prepareCa: true })
  try {
    t.ok(first.preparedCa, 'no CA yet: one is prepared while the database opens')
    t.equal(first.issuingKey, undefined)
    const services = (await runtimeServices(first))!
    t.equal(services.ca.created, true)
    if (first.database.kind === 'pglite') {
      const { rows } = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(first.database.db)
      t.equal(rows[0]!.shared_buffers, PGLITE_SHARED_BUFFERS, 'the embedded database runs with kagi\'s shared_buffers')
    }
  } finally {
    await first.database.close()
  }
  const again = await openRuntime(config, 'test', { prepareCa: true })
  try {
    t.equal(again.preparedCa, undefined, 'a CA exists: nothing is generated')
    const known = await again.issuingKey
    const row = (await findActiveCas(again.database.db)).find((r) => r.role === 'issuing')!
    t.equal(known?.encryptedKey, row.encrypted_key)
    const services = (await runtimeServices(again))!
    t.notOk(services.ca.created)
    t.equal(spki(services.ca.issuingKey), spki(await decryptPrivateKeyAsync(row.encrypted_key, config.caPassphrase!)))
    t.equal((await findActiveCas(again.database.db)).length, 2, 'still one root and one issuing CA')
  } finally {
    await again.database.close()
  }
  const wrong = await openRuntime({ ...config, caPassphrase: 'a-wrong-passphrase-0123456789' }, 'test', { prepareCa: true })
  try {
    await t.rejects(runtimeServices(wrong), { code: 'ca_passphrase_wrong' }, 'a wrong passphrase is refused as before')
  } finally {
    await wrong.database.close()
  }
})

t.test('the embedded database in memory (tests) runs with the same shared_buffers', { skip: databaseKind === 'postgres' && 'PGlite only' }, async (t) => {
  const handle = await openDatabase({ dataDir: '', memory: true })
  t.teardown(() => handle.close())
  const { rows } = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(handle.db)
  t.equal(rows[0]!.shared_buffers, PGLITE_SHARED_BUFFERS)
})
