#!/usr/bin/env node
// `npm run build` (and npm's `prepare`, which `npm ci` runs): compiles the
// TypeScript sources into dist/ so that `kagi` starts without a TypeScript
// loader (about a second faster). Without TypeScript installed (a production
// install that omitted devDependencies) it does nothing and kagi runs the
// sources through tsx instead.
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
let tsc
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
} catch {
  console.error('kagi build: typescript is not installed; kagi will run from the TypeScript sources')
  process.exit(0)
}
rmSync(join(root, 'dist'), { recursive: true, force: true })
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
if (result.status !== 0 || !existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) {
  // Never break `npm ci`: without a stamp, bin/kagi.js runs the sources through tsx.
  console.error('kagi build: TypeScript reported errors (see above; `npm run typecheck`); kagi will run from the sources')
  process.exit(0)
}
// The stamp tells bin/kagi.js when the build was made (sources newer than it are run through tsx).
writeFileSync(join(root, 'dist', '.build-stamp'), new Date().toISOString())
