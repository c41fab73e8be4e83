import { spawn } from 'node:child_process'
import { join } from 'node:path'

const here = import.meta.dirname

/**
 * Runs one of the bench's load clients (a TypeScript file beside this one)
 * in its own process, after `prefix` (e.g. `unshare -n …` to share a peer's
 * network namespace), and parses the JSON result it prints last. A separate
 * process keeps the load generator from competing with the server measured.
 */
export function runJsonClient<T>(script: string, args: readonly string[], prefix: readonly string[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    const argv = [...prefix, process.execPath, join(here, '..', 'bin', 'run-ts.js'), join(here, script), ...args]
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('close', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as T)
      } catch (error) {
        reject(new Error(`${script} failed: ${out} ${error}`))
      }
    })
  })
}
