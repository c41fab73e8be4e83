import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let found: { dir: string; version: string } | undefined

/**
 * kagi's own package.json, the nearest one named kagi above this module:
 * src/ when run from the sources, dist/src/ when compiled, dist/bundle/cli/
 * when bundled (bin/build.js). Its directory holds dist/.
 */
function kagiPackage(): { dir: string; version: string } {
  if (found) return found
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'kagi') return (found = { dir, version: pkg.version ?? 'unknown' })
    } catch {
      // No package.json here: look one level up.
    }
    if (dirname(dir) === dir) return (found = { dir: '', version: 'unknown' })
  }
}

/** kagi's version from its package.json ("unknown" when there is none). */
export function kagiVersion(): string {
  return kagiPackage().version
}

/** The directory of kagi's package.json, or '' when there is none. */
export function kagiPackageDir(): string {
  return kagiPackage().dir
}
