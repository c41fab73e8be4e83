import type { CacheItem, CacheProvider } from '@node-saml/node-saml'
import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'

/** How long an AuthnRequest may wait for its Response. */
export const REQUEST_TTL_MS = 10 * 60_000

/**
 * node-saml's request-ID cache in the database, so that every replica knows
 * the AuthnRequests any of them sent (InResponseTo, SAML 2.0 Profiles
 * §4.1.4.3). node-saml stores the issue instant and removes the ID once a
 * Response names it, so a Response is accepted at most once per request.
 */
export function samlRequestCache(db: Kysely<Database>, now: () => Date = () => new Date()): CacheProvider {
  let saves = 0
  return {
    async saveAsync(key: string, value: string): Promise<CacheItem | null> {
      // Expired requests are swept now and then rather than on every login.
      if (++saves % 50 === 1) await db.deleteFrom('saml_request').where('created_at', '<', new Date(now().getTime() - REQUEST_TTL_MS)).execute()
      const row = await db.insertInto('saml_request').values({ id: key, created_at: new Date(value) }).onConflict((oc) => oc.doNothing()).returning('created_at').executeTakeFirst()
      return row ? { value, createdAt: new Date(row.created_at).getTime() } : null
    },
    async getAsync(key: string): Promise<string | null> {
      const row = await db
        .selectFrom('saml_request')
        .select('created_at')
        .where('id', '=', key)
        .where('created_at', '>', new Date(now().getTime() - REQUEST_TTL_MS))
        .executeTakeFirst()
      return row ? new Date(row.created_at).toISOString() : null
    },
    async removeAsync(key: string | null): Promise<string | null> {
      if (!key) return null
      const row = await db.deleteFrom('saml_request').where('id', '=', key).returning('created_at').executeTakeFirst()
      return row ? new Date(row.created_at).toISOString() : null
    },
  }
}

/**
 * Records an assertion ID as consumed. Returns false when it was consumed
 * before: a replayed bearer assertion (Profiles §4.1.4.5). The primary key
 * makes two replicas racing on the same assertion agree.
 */
export async function consumeAssertion(db: Kysely<Database>, id: string, issuer: string, expiresAt: Date, now = new Date()): Promise<boolean> {
  await db.deleteFrom('saml_assertion').where('expires_at', '<', now).execute()
  const row = await db
    .insertInto('saml_assertion')
    .values({ id, issuer, expires_at: expiresAt, consumed_at: sql`now()` })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst()
  return Boolean(row)
}
