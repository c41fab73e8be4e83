import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'kysely'
import t from 'tap'
import { openDatabase } from '../../src/db/connect.js'
import { migrateToLatest, migrationNames } from '../../src/db/migrator.js'
import { writeTemplate } from '../../src/db/pglite-template.js'

// A new embedded database is a copy of the build's template (src/db/pglite-template.ts) instead of an initdb:
// the copy must be a complete, migrated, empty database of its own, and a template that does not match is not used.

const root = t.testdir({})
const template = join(root, 'template')

t.before(async () => {
  await writeTemplate(template)
})

t.test('the template: every migration applied, the stamp names them and the PGlite version, and nothing per installation', async (t) => {
  const stamp = JSON.parse(readFileSync(join(template, 'stamp.json'), 'utf8')) as { pglite: string; migrations: string[] }
  t.same(stamp.migrations, await migrationNames())
  t.match(stamp.pglite, /^\d+\.\d+\.\d+/)
  t.notOk(existsSync(`${template}.partial`), 'written beside and renamed into place')
  const copy = join(root, 'inspect')
  cpSync(join(template, 'db'), join(copy, 'db'), { recursive: true })
  const handle = await openDatabase({ dataDir: copy, templateDir: false })
  t.teardown(() => handle.close())
  t.equal(handle.created, undefined, 'an existing database is opened, not created')
  const { rows: tables } = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`.execute(handle.db)
  t.ok(tables.length > 10, `${tables.length} tables`)
  const { rows: applied } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(handle.db)
  t.same(applied.map((r) => r.name), await migrationNames())
  // The audit chain's head starts as every new database's does (migration 0013): sequence 0, a zero hash.
  const { rows: heads } = await sql<{ seq: string; hash: Uint8Array }>`select seq::text, hash from audit_chain_head`.execute(handle.db)
  t.same(heads.map((h) => [h.seq, Buffer.from(h.hash).toString('hex')]), [['0', '00'.repeat(32)]], 'the audit chain has its genesis head only')
  for (const { name } of tables.filter((r) => !r.name.startsWith('kysely_migration') && r.name !== 'audit_chain_head')) {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(name)}`.execute(handle.db)
    t.equal(rows[0]!.n, 0, `${name} is empty: no CA, keys or sessions travel with the template`)
  }
})

t.test('a new data directory starts from the template: migrated, writable, and its own', async (t) => {
  const dataDir = join(root, 'from-template')
  const first = await openDatabase({ dataDir, templateDir: template })
  try {
    t.same(first.created, { from: 'template' })
    t.same(await migrateToLatest(first.db), [], 'nothing left to migrate')
    await sql`insert into app_user (id, email) values (gen_random_uuid(), 'a@example.com')`.execute(first.db)
  } finally {
    await first.close()
  }
  t.notOk(existsSync(join(dataDir, 'db.from-template')), 'copied beside and renamed into place')
  t.equal(statSync(join(dataDir, 'db')).mode & 0o777, 0o700, 'the database directory is 0700, as initdb makes it')
  t.equal(statSync(join(dataDir, 'db', 'PG_VERSION')).mode & 0o777, 0o600, 'its files 0600')
  const again = await openDatabase({ dataDir, templateDir: template })
  try {
    t.equal(again.created, undefined, 'a restart opens the database it has')
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from app_user`.execute(again.db)
    t.equal(rows[0]!.n, 1, 'what was written is kept')
  } finally {
    await again.close()
  }
  const other = await openDatabase({ dataDir: join(root, 'second'), templateDir: template })
  try {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from app_user`.execute(other.db)
    t.equal(rows[0]!.n, 0, 'a second installation from the same template does not see the first one\'s rows')
  } finally {
    await other.close()
  }
})

t.test('a template that does not match, or none, is not used: initdb and the migrations run as before', async (t) => {
  const stale = join(root, 'stale')
  cpSync(template, stale, { recursive: true })
  const stamp = JSON.parse(readFileSync(join(stale, 'stamp.json'), 'utf8')) as { pglite: string; migrations: string[] }
  writeFileSync(join(stale, 'stamp.json'), JSON.stringify({ ...stamp, pglite: '0.0.1' }))
  const otherMigrations = join(root, 'other-migrations')
  cpSync(template, otherMigrations, { recursive: true })
  writeFileSync(join(otherMigrations, 'stamp.json'), JSON.stringify({ ...stamp, migrations: stamp.migrations.slice(0, -1) }))
  const cases = [
    { templateDir: stale, why: /PGlite 0\.0\.1/ },
    { templateDir: otherMigrations, why: /other migrations/ },
    { templateDir: join(root, 'missing'), why: /no template/ },
  ]
  for (const [i, { templateDir, why }] of cases.entries()) {
    const handle = await openDatabase({ dataDir: join(root, `initdb-${i}`), templateDir })
    try {
      t.match(handle.created, { from: 'initdb', why }, `not used: ${why}`)
      const applied = await migrateToLatest(handle.db)
      t.equal(applied.length, stamp.migrations.length, 'the migrations ran on the new database')
    } finally {
      await handle.close()
    }
  }
})
