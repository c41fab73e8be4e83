import { chmodSync, constants as fsConstants, cpSync, readdirSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kysely } from 'kysely'
import { kagiPackageDir, packageAbove } from '../package-dir.js'
import { pgliteStartParams } from './connect.js'
import type { Database } from './database.js'
import { migrateToLatest, migrationNames } from './migrator.js'
import { PGliteDialect } from './pglite-dialect.js'

/**
 * A new embedded database is a copy of one made at build time, not a new
 * initdb. PGlite's initdb plus the migrations take 3 to 4 s of a first start
 * on the build machine; copying the 40 MB directory takes 0.2 to 0.3 s
 * (issue 15: `npm start` on a fresh clone under 3 s).
 *
 * bin/build.js (run by `npm ci`) writes it into dist/pglite-template:
 * `db/` (a cluster with every migration applied, closed cleanly) and
 * `stamp.json` (the PGlite version and migration names it was made with). It
 * holds the schema only: no CA, no keys, nothing per installation. A
 * template whose stamp does not match the PGlite and migrations in use is
 * not used, and kagi runs initdb as before.
 */
export const TEMPLATE_DIR = join(kagiPackageDir(), 'dist', 'pglite-template')

/** What a template was made with; it is used only with the same. */
interface TemplateStamp {
  pglite: string
  migrations: string[]
}

/** The installed PGlite's version (its package.json is not exported, so it is found above the module). */
function pgliteVersion(): string {
  const found = packageAbove(fileURLToPath(import.meta.resolve('@electric-sql/pglite')), '@electric-sql/pglite')
  if (!found || found.version === 'unknown') throw new Error('cannot find the version of @electric-sql/pglite')
  return found.version
}

async function currentStamp(): Promise<TemplateStamp> {
  return { pglite: pgliteVersion(), migrations: await migrationNames() }
}

/**
 * Makes the template in `dir` (replacing one there): a new PGlite database,
 * migrated, closed. Written beside and renamed into place, so a build that
 * stops half-way leaves no template rather than a broken one.
 */
export async function writeTemplate(dir: string = TEMPLATE_DIR): Promise<void> {
  const partial = `${dir}.partial`
  await rm(partial, { recursive: true, force: true })
  await mkdir(partial, { recursive: true, mode: 0o700 })
  const { PGlite } = await import('@electric-sql/pglite')
  const pglite = new PGlite(join(partial, 'db'), { startParams: pgliteStartParams(PGlite.defaultStartParams) })
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) })
  try {
    await migrateToLatest(db)
  } finally {
    // Closes PGlite too: a clean shutdown, so the copied files need no recovery.
    await db.destroy()
  }
  // PostgreSQL's modes for a data directory (PGlite leaves 0755 and 0666): the copies keep them.
  makePrivate(join(partial, 'db'))
  await writeFile(join(partial, 'stamp.json'), JSON.stringify(await currentStamp()))
  await rm(dir, { recursive: true, force: true })
  await rename(partial, dir)
}

/** Directories 0700 and files 0600 from `dir` down (a PGlite cluster: about 1,000 entries, a few levels; no links). */
function makePrivate(dir: string): void {
  chmodSync(dir, 0o700)
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) makePrivate(path)
    else if (entry.isFile()) chmodSync(path, 0o600)
  }
}

/** Why a template cannot be used, or undefined when it can. */
async function unusable(dir: string): Promise<string | undefined> {
  let stamp: TemplateStamp
  try {
    stamp = JSON.parse(await readFile(join(dir, 'stamp.json'), 'utf8')) as TemplateStamp
    await readdir(join(dir, 'db'))
  } catch {
    return `no template at ${dir} (npm run build makes it)`
  }
  let current: TemplateStamp
  try {
    current = await currentStamp()
  } catch (error) {
    return `cannot tell whether the template fits: ${(error as Error).message}`
  }
  if (stamp.pglite !== current.pglite) return `the template was made with PGlite ${stamp.pglite}, not ${current.pglite}`
  if (stamp.migrations.join() !== current.migrations.join()) return 'the template was made with other migrations'
  return undefined
}

/**
 * Copies the template's database to `target` (which must not exist) when
 * the template matches this PGlite and these migrations. Copied beside and
 * renamed, so `target` is either complete or absent. Returns why not when
 * it was not copied (the caller then lets PGlite run initdb).
 */
export async function copyTemplate(target: string, dir: string = TEMPLATE_DIR): Promise<{ copied: true } | { copied: false; why: string }> {
  const why = await unusable(dir)
  if (why) return { copied: false, why }
  const partial = `${target}.from-template`
  try {
    await rm(partial, { recursive: true, force: true })
    // Synchronous on purpose: at a first start the thread pool is busy with the new CA's PBKDF2 runs, and
    // the 1,000 files' asynchronous calls queued behind them took 2 s instead of 0.2 s.
    cpSync(join(dir, 'db'), partial, { recursive: true, errorOnExist: true, force: false, mode: fsConstants.COPYFILE_FICLONE })
    // Whatever the template's own modes, the database directory is private (as initdb makes it).
    chmodSync(partial, 0o700)
    await rename(partial, target)
    return { copied: true }
  } catch (error) {
    await rm(partial, { recursive: true, force: true }).catch(() => {})
    return { copied: false, why: `cannot copy the template: ${(error as NodeJS.ErrnoException).code ?? error}` }
  }
}
