import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The nearest package.json named `name` at or above `from` (a directory or
 * a file), with its directory and version; undefined when there is none.
 */
export function packageAbove(from: string, name: string): { dir: string; version: string } | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === name) return { dir, version: pkg.version ?? 'unknown' }
    } catch {
      // No package.json here (or not a directory): look one level up.
    }
    if (dirname(dir) === dir) return undefined
  }
}

let found: { dir: string; version: string } | undefined

/**
 * kagi's own package.json, the nearest one named kagi above this module:
 * src/ when run from the sources, dist/src/ when compiled, dist/bundle/cli/
 * when bundled (bin/build.js). Its directory holds dist/.
 */
function kagiPackage(): { dir: string; version: string } {
  found ??= packageAbove(dirname(fileURLToPath(import.meta.url)), 'kagi') ?? { dir: '', version: 'unknown' }
  return found
}

/** kagi's version from its package.json ("unknown" when there is none). */
export function kagiVersion(): string {
  return kagiPackage().version
}

/** The directory of kagi's package.json, or '' when there is none. */
export function kagiPackageDir(): string {
  return kagiPackage().dir
}
