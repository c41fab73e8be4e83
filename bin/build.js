#!/usr/bin/env node
// `npm run build` (and npm's `prepare`, which `npm ci` runs): compiles the
// TypeScript sources into dist/ so that `kagi` starts without a TypeScript
// loader (about a second faster), then bundles the compiled CLI (see
// bundle()) and makes the embedded database's template (see
// pgliteTemplate()). Without TypeScript installed (a production install
// that omitted devDependencies) it does nothing and kagi runs the sources
// through tsx instead.
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

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
await bundle()
pgliteTemplate()
// The stamp tells bin/kagi.js when the build was made (sources newer than it are run through tsx).
writeFileSync(join(root, 'dist', '.build-stamp'), new Date().toISOString())

/**
 * dist/bundle/cli/: the compiled CLI with kagi's own modules and the
 * ES-module packages made of many files (kysely: 263, zod: 95) bundled, as
 * an entry (main.js) and chunks. Node resolves, reads and links every ES
 * module separately, which cost `kagi serve` about 0.3 s of its start
 * (issue 15). The chunks keep the sources' dynamic imports lazy, so the
 * server still opens its database and decrypts the CA key while the HTTP
 * modules load (server.ts). The other packages stay imports: they are
 * CommonJS, loaded once each either way, and bundling them changed how some
 * resolve their exports and files (@peculiar/x509, sodium-native's addon);
 * PGlite finds its WebAssembly next to itself. The bundle sits two levels
 * below dist/, as the compiled modules do, so paths taken from
 * import.meta.url (db/migrator.ts: ../../migrations) point to the same
 * place. Without esbuild, bin/kagi.js runs dist/src/cli/main.js instead.
 */
async function bundle() {
  const bundled = new Set(['kysely', 'zod'])
  let esbuild
  try {
    esbuild = createRequire(import.meta.url)('esbuild')
  } catch {
    console.error('kagi build: esbuild is not installed; kagi runs the compiled modules unbundled')
    return
  }
  const outdir = join(root, 'dist', 'bundle', 'cli')
  await esbuild.build({
    entryPoints: { main: join(root, 'dist', 'src', 'cli', 'main.js') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    logLevel: 'warning',
    plugins: [{
      name: 'packages-stay-imports',
      setup(build) {
        // A bare specifier (not ./ or /): a package, or a node: built-in.
        build.onResolve({ filter: /^[^./]/ }, (args) => {
          const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0]
          return bundled.has(name) ? undefined : { path: args.path, external: true }
        })
      },
    }],
  }).catch((error) => {
    // Never break `npm ci`: main.js works alone.
    rmSync(outdir, { recursive: true, force: true })
    console.error(`kagi build: bundling failed (${error.message}); kagi runs the compiled modules unbundled`)
  })
}

/**
 * dist/pglite-template: the embedded database a first `kagi serve` copies
 * instead of running initdb and the migrations (src/db/pglite-template.ts).
 * In a process of its own, with a time limit: the build never hangs, and a
 * failure only means first starts run initdb.
 */
function pgliteTemplate() {
  const module = pathToFileURL(join(root, 'dist', 'src', 'db', 'pglite-template.js')).href
  const made = spawnSync(process.execPath, ['--input-type=module', '-e', `await (await import(${JSON.stringify(module)})).writeTemplate()`], { stdio: 'inherit', timeout: 180_000 })
  if (made.status !== 0) console.error('kagi build: could not make the embedded database template; a first start runs initdb instead')
}
