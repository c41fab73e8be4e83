import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Result of running a real command-line tool. */
export interface RunResult {
  status: number | null
  stdout: string
  stderr: string
}

/** Runs openssl (or another tool) with arguments and optional stdin; never through a shell. */
export function run(command: string, args: readonly string[], input?: Buffer | string): RunResult {
  const r = spawnSync(command, args, { input, encoding: 'utf8', timeout: 30_000 })
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') }
}

/** A temporary directory removed when the test ends. */
export function tempDir(t: { teardown: (fn: () => void) => void }): { dir: string; file: (name: string, content: string | Uint8Array) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'kagi-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return {
    dir,
    file: (name, content) => {
      const path = join(dir, name)
      writeFileSync(path, content)
      return path
    },
  }
}

/** Makes a CSR with openssl for the given key algorithm ("ec:P-256", "rsa:2048", ...). */
export function opensslCsr(dir: string, key: string, subject = '/CN=ignored.example'): string {
  const [kind, param] = key.split(':')
  const keyPath = join(dir, `csr-${kind}-${param}.key`)
  const opts = kind === 'ec' ? ['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${param}`] : kind === 'rsa' ? ['-newkey', `rsa:${param}`] : ['-newkey', kind!]
  const r = run('openssl', ['req', '-new', ...opts, '-nodes', '-keyout', keyPath, '-subj', subject, '-addext', 'subjectAltName=DNS:evil.example,email:ceo@example.com', '-addext', 'basicConstraints=critical,CA:TRUE'])
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`)
  return r.stdout
}

/** Like {@link run}, without blocking the event loop: needed when the tool talks to a server in this process. `input` goes to its stdin. */
export function runAsync(command: string, args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], timeout: 30_000 })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d) => (stdout += d))
    child.stderr!.on('data', (d) => (stderr += d))
    child.on('error', (error) => resolve({ status: null, stdout, stderr: stderr + String(error) }))
    child.on('close', (status) => resolve({ status, stdout, stderr }))
    child.stdin?.end(input)
  })
}
