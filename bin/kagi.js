#!/usr/bin/env node
// kagi's command-line entry point. The sources are TypeScript, run through
// tsx's loader (no build step: `npm ci && npm start` is all a checkout needs).
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/main.ts')
