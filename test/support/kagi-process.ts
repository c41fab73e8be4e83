import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'

/** bin/kagi.js: runs the built dist/ (run `npm run -s build` first; `npm test`'s prepare step does it after `npm ci`). */
export const kagiBin = join(import.meta.dirname, '..', '..', 'bin', 'kagi.js')

interface Teardown {
  teardown: (fn: () => unknown) => void
}

/** A `kagi serve` child process and what it printed. */
export interface KagiProcess {
  child: ChildProcess
  /** Everything written to stdout and stderr so far. */
  log: () => string
  /** Sends `signal` and resolves with the exit code (null: killed by a signal, or still running after `timeoutMs`). */
  stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<number | null>
}

/** Runs one `kagi` CLI command synchronously with `env` (nothing inherited but what `env` holds). */
export function runKagi(env: Record<string, string>, args: string[], options: { cwd?: string; timeoutMs?: number } = {}) {
  const r = spawnSync(process.execPath, [kagiBin, ...args], { env, cwd: options.cwd, encoding: 'utf8', timeout: options.timeoutMs ?? 120_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/**
 * Like {@link runKagi}, without blocking the event loop: for a command that
 * talks to a server this process runs (a test double), which must keep answering.
 * The child is killed after `timeoutMs` (default 120 s).
 */
export function runKagiAsync(env: Record<string, string>, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [kagiBin, ...args], { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 120_000 })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d) => (stdout += d))
    child.stderr!.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

/**
 * Starts `kagi serve` with exactly `env` (give PATH, HOME, PORT, HOST, KAGI_*),
 * resolves once `readyUrl` (default http://127.0.0.1:$PORT/readyz) answers 200,
 * and kills the process at teardown. Waits at most `readyTimeoutMs`.
 */
export async function startKagi(t: Teardown, env: Record<string, string>, options: { readyUrl?: string; readyTimeoutMs?: number } = {}): Promise<KagiProcess> {
  // No RSA key pool unless the test sets one (see test/helper.ts testConfig).
  const child = spawn(process.execPath, [kagiBin, 'serve'], { env: { KAGI_KEY_POOL_SIZE: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    // Every spawned server's log is checked for secrets (README "Logs"): a leak fails the test that started it.
    const leaked = secretsInLog(log, env)
    if (leaked.length) throw new Error(`kagi serve logged ${leaked.join(', ')}: ${log.slice(0, 2000)}`)
  })
  let log = ''
  child.stdout!.on('data', (d) => (log += d))
  child.stderr!.on('data', (d) => (log += d))
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
    const exited = once(child, 'exit')
    child.kill(signal)
    const [code] = await Promise.race([exited, new Promise<[null]>((r) => setTimeout(() => r([null]), timeoutMs).unref())])
    return code as number | null
  }
  const readyUrl = options.readyUrl ?? `http://127.0.0.1:${env.PORT}/readyz`
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000)
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`kagi serve exited with ${child.exitCode}: ${log.slice(-1500)}`)
    if (await fetch(readyUrl).then((r) => r.ok, () => false)) return { child, log: () => log, stop }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGKILL')
  throw new Error(`kagi serve did not become ready at ${readyUrl}: ${log.slice(-1500)}`)
}

/** Shapes of secrets no log line may hold: API tokens (db/token-repository.ts), PKCS#12 passwords (enrollment/password.ts), PEM blocks (private keys among them). */
const SECRET_SHAPES: Record<string, RegExp> = {
  'an API token': /kagi_[A-Za-z0-9_-]{43}/,
  'a PKCS#12 password': /\b[a-hjkmnp-z2-9]{4}(?:-[a-hjkmnp-z2-9]{4}){4}\b/,
  'a PEM block': /-----BEGIN /,
}

/**
 * The secrets found in a `kagi serve` log (empty when there are none): any
 * token, PKCS#12 password or PEM block by its shape, and by value the
 * passphrase, session secret and metrics token of `env` and the `known`
 * values (name → value). Cheap enough for every spawned server's log.
 */
export function secretsInLog(log: string, env: Record<string, string>, known: Record<string, string> = {}): string[] {
  const found = Object.entries(SECRET_SHAPES).filter(([, shape]) => shape.test(log)).map(([name]) => name)
  const values: Record<string, string | undefined> = { KAGI_CA_PASSPHRASE: env.KAGI_CA_PASSPHRASE, KAGI_SESSION_SECRET: env.KAGI_SESSION_SECRET, KAGI_METRICS_TOKEN: env.KAGI_METRICS_TOKEN, ...known }
  for (const [name, value] of Object.entries(values)) if (value && log.includes(value)) found.push(name)
  return found
}
