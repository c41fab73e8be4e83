import type { Kysely } from 'kysely'

/**
 * The public URL a CA's certificates name (CRL distribution points, AIA),
 * stored with the CA so every process uses the same one instead of computing
 * its own default. Empty for CAs created before: the first process to open
 * the database adopts the URL their certificates already name
 * (startup/public-url.ts), since that needs certificate parsing and the
 * process's configuration, which a migration has neither of.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('ca_certificate').addColumn('public_url', 'text').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('ca_certificate').dropColumn('public_url').execute()
}
