import { openDatabase, type DatabaseHandle } from '../src/db/connect.js'
import { migrateToLatest } from '../src/db/migrator.js'
import { plan } from './plan.js'

/** A migrated, still empty in-memory database, dumped: the run's first database (quick run only). */
let emptyDump: Blob | undefined

/**
 * A migrated, empty in-memory PGlite database for a bench phase. Making one
 * runs initdb inside PGlite's WebAssembly PostgreSQL and then the
 * migrations, 4 s on a quiet core and over 10 s on a busy one, which three
 * phases would pay in a 1-minute run; so the quick run loads each from a dump
 * of such a database (~0.6 s): the first one it made, dumped before anything
 * was written to it. The
 * full run makes each as before.
 */
export async function memoryDatabase(): Promise<DatabaseHandle> {
  const handle = await openDatabase({ dataDir: '', memory: true, snapshot: plan.quick ? emptyDump : undefined })
  try {
    // Up to date already when loaded from a dump: one query.
    await migrateToLatest(handle.db)
    if (plan.quick && !emptyDump && handle.pglite) emptyDump = await handle.pglite.dumpDataDir('none')
    return handle
  } catch (error) {
    await handle.close()
    throw error
  }
}
