import { spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../support/free-port.js'
import { runAsync, type RunResult } from '../support/openssl.js'

interface Teardown {
  teardown: (fn: () => unknown) => void
}

/** Debian's server binaries (postgresql-NN), newest first; undefined when none is installed. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))
  return versions[0] ? join(root, versions[0], 'bin') : undefined
}

export const POSTGRES_INSTALL_HINT = 'apt-get install -y postgresql'

/** A PostgreSQL cluster of this test's own, on 127.0.0.1 at a free port. */
export interface PrivateCluster {
  port: number
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url: (database: string) => string
  /** pg_ctl stop -m fast (waits until it is down). */
  stop: () => Promise<RunResult>
  /** pg_ctl start (waits until it accepts connections). */
  start: () => Promise<RunResult>
}

/**
 * initdb into a temporary directory and starts it: listening only on
 * 127.0.0.1 at a free port, its Unix socket in that directory, trust
 * authentication for `postgres`. Never the machine's own cluster. initdb
 * refuses to run as root, so as root the binaries run as the `postgres`
 * system user (runuser). Stopped (immediate) and removed at teardown.
 */
export async function startPrivateCluster(t: Teardown, bin: string): Promise<PrivateCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'kagi-pg-'))
  const data = join(dir, 'data')
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim())
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim())
    chownSync(dir, uid, gid)
  }
  const command = (tool: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args])
  const port = await freePort()
  const init = spawnSync(...command('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']), { encoding: 'utf8', timeout: 120_000 })
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`initdb failed: ${init.stderr}`)
  }
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir} -c fsync=off -c max_connections=40`
  const pgCtl = (args: string[]) => runAsync(...command('pg_ctl', ['-D', data, ...args]))
  const start = () => pgCtl(['-o', options, '-l', join(dir, 'log'), '-w', '-t', '30', 'start'])
  const stop = () => pgCtl(['-m', 'fast', '-w', '-t', '30', 'stop'])
  t.teardown(async () => {
    const stopped = await pgCtl(['-m', 'immediate', '-w', '-t', '30', 'stop'])
    const pidFile = join(data, 'postmaster.pid')
    // pg_ctl could not stop it: kill the postmaster this test started, by its pid.
    if (stopped.status !== 0 && existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGKILL')
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true })
  })
  const started = await start()
  if (started.status !== 0) throw new Error(`pg_ctl start failed: ${started.stderr}${existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : ''}`)
  return { port, url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`, stop, start }
}
