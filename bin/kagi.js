#!/usr/bin/env node
// kagi's command-line entry point. It runs the compiled build in dist/ when
// that build is at least as new as every source file (`npm ci` builds it;
// its bundle when there is one),
// and otherwise the TypeScript sources through tsx, so an edited checkout
// never runs stale code.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

function newestSource(dir) {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path))
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs)
  }
  return newest
}

function buildIsFresh() {
  try {
    const built = statSync(join(root, 'dist', '.build-stamp')).mtimeMs
    return ['src', 'ca', 'profiles', 'enrollment', 'migrations'].every((dir) => newestSource(join(root, dir)) <= built)
  } catch {
    return false
  }
}

if (process.env.KAGI_FROM_SOURCE !== '1' && buildIsFresh()) {
  // The bundle (bin/build.js) when esbuild made one; the same code either way.
  const bundled = join(root, 'dist', 'bundle', 'cli', 'main.js')
  await import(existsSync(bundled) ? pathToFileURL(bundled).href : '../dist/src/cli/main.js')
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/cli/main.ts')
}
