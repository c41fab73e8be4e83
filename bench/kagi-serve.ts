import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'

/** The `kagi` command the bench runs: the built CLI (`npm run -s build` first, or it falls back to the TypeScript sources). */
export const KAGI_BIN = join(import.meta.dirname, '..', 'bin', 'kagi.js')

/** How often the bench asks GET /readyz of a starting server. */
const POLL_MS = 25

/**
 * `kagi serve` on 127.0.0.1:`port` with `env`, and the milliseconds until its
 * GET /readyz answered 200. Bounded: not ready within `timeoutMs`, it is
 * killed and this throws, so a server that hangs fails its phase, not the run.
 */
export async function startKagiServe(
  env: NodeJS.ProcessEnv,
  port: number,
  options: { timeoutMs?: number; stdout?: 'inherit' | 'ignore' } = {},
): Promise<{ child: ChildProcess; origin: string; readyMs: number }> {
  const timeoutMs = options.timeoutMs ?? 30_000
  const t0 = performance.now()
  const child = spawn(process.execPath, [KAGI_BIN, 'serve'], { env: { ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', options.stdout ?? 'inherit', 'inherit'] })
  const origin = `http://127.0.0.1:${port}`
  for (let i = 0; i < timeoutMs / POLL_MS && child.exitCode === null; i++) {
    if (await fetch(`${origin}/readyz`).then((r) => r.ok, () => false)) return { child, origin, readyMs: performance.now() - t0 }
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
  const exited = child.exitCode !== null
  await stopKagiServe(child)
  throw new Error(exited ? `kagi serve exited with ${child.exitCode} before it was ready` : `kagi serve did not become ready in ${timeoutMs / 1000} s`)
}

/** SIGTERM, and SIGKILL if it has not exited after `killAfterMs`: resolves once it has exited. */
export async function stopKagiServe(child: ChildProcess, killAfterMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  // Cleared once it exits, so that it does not hold the bench for those seconds.
  const kill = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
  await exited
  clearTimeout(kill)
}
