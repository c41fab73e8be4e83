import { sql, type Kysely } from 'kysely'

/**
 * The device inventory. `match_key` identifies a device within its owner's
 * list ("sn:<serial number>" or "name:<platform>:<lowercased name>"), so that
 * enrolling the same device again finds the same record, even concurrently.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('device')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('app_user.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('platform', 'text', (c) => c.notNull().check(sql`platform in ('macos', 'ios', 'windows', 'chromeos', 'android')`))
    .addColumn('hostname', 'text')
    .addColumn('serial_number', 'text')
    .addColumn('match_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('device_owner_match', ['user_id', 'match_key'])
    .execute()
  await db.schema.createIndex('device_serial_number').on('device').column('serial_number').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('device').execute()
}
