import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** A database created for one bench phase on a PostgreSQL server, and how to drop it. */
export interface FreshDatabase {
  /** Its connection URL (the server's URL with this database's name). */
  url: string
  /** Empties it (drop schema public) so a later phase can migrate it afresh. */
  empty(): Promise<void>
  /** Drops it, closing other sessions. */
  drop(): Promise<void>
}

async function run(url: string, query: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(query)
  } finally {
    await client.end()
  }
}

/** Creates `kagi_<prefix>_<random>` on the server `serverUrl` names (its own database is only used to run `create database`). */
export async function freshDatabase(serverUrl: string, prefix: string): Promise<FreshDatabase> {
  const name = `kagi_${prefix}_${randomBytes(5).toString('hex')}`
  await run(serverUrl, `create database ${name}`)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    empty: () => run(url.toString(), 'drop schema public cascade; create schema public'),
    drop: () => run(serverUrl, `drop database if exists ${name} with (force)`),
  }
}
