import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { commandExists, type Component } from './components.js'

/**
 * Drives three real SCEP clients (certmonger, micromdm scepclient, strongSwan `pki --scep`) against a
 * SCEP URL on 127.0.0.1. Every client run works in a fresh folder of its own and is bounded by
 * coreutils `timeout`, which kills the client's whole process group even if the test process dies.
 * Recipes and traps: /work/shared/reference/test-peers.md ("certmonger SCEP client", "More SCEP peers").
 */

const SCEP_SUBMIT = '/usr/lib/certmonger/scep-submit'
/** strongSwan's HTTP fetcher, without which `pki --scep` cannot talk to a server (libstrongswan-extra-plugins). */
const STRONGSWAN_CURL_PLUGIN = '/usr/lib/ipsec/plugins/libstrongswan-curl.so'
const DEFAULT_TIMEOUT_MS = 30_000

/** The SCEP clients this harness drives, for `requireComponent`. */
export const scepComponents = {
  certmonger: { name: 'certmonger (SCEP via scep-submit)', available: commandExists('certmonger') && commandExists('getcert') && existsSync(SCEP_SUBMIT), install: 'certmonger' },
  scepclient: { name: 'micromdm scepclient', available: commandExists('scepclient'), install: 'scep' },
  strongswan: { name: 'strongSwan pki --scep', available: commandExists('pki') && existsSync(STRONGSWAN_CURL_PLUGIN), install: 'strongswan-pki libstrongswan-extra-plugins' },
} satisfies Record<string, Component>

/** Network and mount namespaces of our own (`unshare -n -m` needs root); probed only when asked. */
export const privateNetworkComponent: Component = {
  name: 'private network namespace (unshare -n -m as root, nsenter, ip)',
  get available() {
    return commandExists('nsenter') && commandExists('ip') && spawnSync('unshare', ['-n', '-m', 'true'], { timeout: 5_000 }).status === 0
  },
  install: 'util-linux iproute2',
}

interface Teardown {
  teardown: (fn: () => unknown) => void
}

/** What one client run printed and how it ended. */
export interface ClientRun {
  status: number | null
  stdout: string
  stderr: string
  /** True when `timeout` stopped the client. */
  timedOut: boolean
}

/** An issued certificate and the client's output, for diagnostics. */
export interface Enrollment {
  certPem: string
  keyPem: string
  stdout: string
  stderr: string
  /** The working folder, when it was made under the caller's `dir` (otherwise it is already removed). */
  dir?: string
}

/** certmonger's verdict on its request, from `getcert list`. */
export interface CertmongerStatus {
  /** e.g. MONITORING (issued), CA_REJECTED, CA_UNREACHABLE, NEED_GUIDANCE. */
  state?: string
  caError?: string
}

type ClientName = 'certmonger' | 'scepclient' | 'strongswan'

/** Thrown when a client did not come back with a certificate; the message carries the client's output. */
export class ScepClientError extends Error {
  constructor(
    readonly client: ClientName,
    readonly run: ClientRun,
    readonly certmonger: CertmongerStatus = {},
  ) {
    const how = run.timedOut ? 'timed out' : `exit ${run.status}`
    const state = certmonger.state ? `, state ${certmonger.state}${certmonger.caError ? ` (${certmonger.caError})` : ''}` : ''
    super(`${client} did not enroll: ${how}${state}\n--- stdout ---\n${readable(run.stdout)}\n--- stderr ---\n${readable(run.stderr)}`)
  }

  /** stdout and stderr together, for matching a client's message wherever it printed it. */
  get output(): string {
    return `${this.run.stdout}\n${this.run.stderr}`
  }
}

/** True when certmonger's request ended CA_REJECTED: the server answered with a SCEP failure. */
export function certmongerRejected(error: unknown): boolean {
  return error instanceof ScepClientError && error.client === 'certmonger' && error.certmonger.state === 'CA_REJECTED'
}

/** The last lines of a client's output, without base64 bodies and certmonger's per-file chatter. */
function readable(text: string, lines = 60): string {
  const noise = /^"?[A-Za-z0-9+/=]{40,}"?$|Wrote to |Running enrollment\/cadata helper/
  return text.split('\n').filter((line) => !noise.test(line)).slice(-lines).join('\n')
}

/** Options every client takes. */
export interface ClientOptions {
  /** The SCEP endpoint, e.g. http://127.0.0.1:PORT/scep. */
  url: string
  /** Parent of the working folder; the folder is then kept for the caller to remove. Default: a temp folder removed on return. */
  dir?: string
  /** Bound on each client command (default 30 s). */
  timeoutMs?: number
  /** Run the client inside this namespace (for a server that is only reachable there). */
  network?: PrivateNetwork
}

// ---- running a client ------------------------------------------------------------------------

/** The environment for a client: a proxy from the environment must not carry its loopback requests (libcurl honours http_proxy). */
function clientEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra }
  for (const name of ['http_proxy', 'https_proxy', 'all_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY']) delete env[name]
  return env
}

/** Runs a client command to its end or until `timeout` stops it; never through a shell. */
function runBounded(argv: readonly string[], cwd: string, options: Pick<ClientOptions, 'timeoutMs' | 'network'>, env: Record<string, string> = {}): Promise<ClientRun> {
  const seconds = Math.max(1, Math.ceil((options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000))
  const inner = options.network ? options.network.wrap(argv, cwd) : [...argv]
  return new Promise((resolve) => {
    const child = spawn('timeout', ['--kill-after=2', String(seconds), ...inner], { cwd, env: clientEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', (error) => resolve({ status: null, stdout, stderr: `${stderr}${String(error)}`, timedOut: false }))
    // 124: `timeout` sent TERM; 137: it had to KILL after the grace period.
    child.on('close', (status) => resolve({ status, stdout, stderr, timedOut: status === 124 || status === 137 }))
  })
}

/** Runs `work` in a fresh folder under `parent` (kept) or the temp dir (removed afterwards). */
async function inFreshDir<T>(parent: string | undefined, prefix: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(parent ?? tmpdir(), `${prefix}-`))
  try {
    return await work(dir)
  } finally {
    if (parent === undefined) rmSync(dir, { recursive: true, force: true })
  }
}

function issued(dir: string, parent: string | undefined, certPem: string, keyPath: string, run: ClientRun): Enrollment {
  return { certPem, keyPem: readFileSync(keyPath, 'utf8'), stdout: run.stdout, stderr: run.stderr, ...(parent !== undefined ? { dir } : {}) }
}

// ---- micromdm scepclient -----------------------------------------------------------------------

export interface ScepclientOptions extends ClientOptions {
  challenge: string
  cn: string
  organization?: string
  /**
   * SHA-256 (hex) of the GetCACert certificate to encrypt to (`-ca-fingerprint`). Without it
   * scepclient 2.1 encrypts to every certificate GetCACert returns, and panics on one whose key
   * is not RSA ("interface {} is *ecdsa.PublicKey, not *rsa.PublicKey").
   */
  caFingerprint?: string
}

/**
 * Enrolls with micromdm's scepclient (Debian `scep`). It ignores GetCACaps: its PKCSReq is always
 * DES-CBC + SHA-1. It makes its key, and reuses a csr.pem it finds, hence the fresh folder.
 */
export function scepclientEnroll(options: ScepclientOptions): Promise<Enrollment> {
  return inFreshDir(options.dir, 'scepclient', async (dir) => {
    const key = join(dir, 'key.pem')
    const cert = join(dir, 'cert.pem')
    const optional = [...(options.organization ? ['-organization', options.organization] : []), ...(options.caFingerprint ? ['-ca-fingerprint', options.caFingerprint] : [])]
    const run = await runBounded(['scepclient', '-server-url', options.url, '-challenge', options.challenge, '-private-key', key, '-certificate', cert, '-cn', options.cn, ...optional], dir, options)
    if (run.status !== 0 || !existsSync(cert)) throw new ScepClientError('scepclient', run)
    return issued(dir, options.dir, readFileSync(cert, 'utf8'), key, run)
  })
}

// ---- strongSwan pki --------------------------------------------------------------------------

export interface StrongswanOptions extends ClientOptions {
  challenge: string
  /** e.g. "CN=dev-sw, O=Example". */
  dn: string
  san?: string | readonly string[]
  /**
   * Debian's pki 5.9.8 tests caps bits as masks (strongswan/strongswan#1607): `aes` needs SHA-384
   * in GetCACaps, `des3` needs AES listed.
   */
  cipher: 'aes' | 'des3'
}

/**
 * The certificate that signs CertReps and receives the envelope, as `pki --scepca` named it:
 * the RA if there is one, else the (last) sub CA, else the root. The others are passed as extra CA certs.
 */
function strongswanCaFiles(dir: string): { signer: string; others: string[] } {
  const files = readdirSync(dir).filter((f) => /^(ra|ca)(-\d+)?\.pem$/.test(f))
  const subCas = files.filter((f) => /^ca-\d+\.pem$/.test(f)).sort((a, b) => Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0]))
  const signer = files.includes('ra.pem') ? 'ra.pem' : (subCas.at(-1) ?? 'ca.pem')
  return { signer: join(dir, signer), others: files.filter((f) => f !== signer).map((f) => join(dir, f)) }
}

/** Enrolls with strongSwan: `pki --scepca` (CA/RA certs), `pki --gen` (RSA key), `pki --scep` (PKCSReq). */
export function strongswanEnroll(options: StrongswanOptions): Promise<Enrollment> {
  return inFreshDir(options.dir, 'strongswan', async (dir) => {
    const transcript: string[] = []
    const step = async (argv: string[]): Promise<ClientRun> => {
      const run = await runBounded(argv, dir, options)
      transcript.push(`$ ${argv.slice(0, 2).join(' ')}\n${run.stderr}`)
      const all = { ...run, stderr: transcript.join('\n') }
      if (run.status !== 0) throw new ScepClientError('strongswan', all)
      return all
    }
    await step(['pki', '--scepca', '--url', options.url, '--caout', join(dir, 'ca.pem'), '--raout', join(dir, 'ra.pem'), '--outform', 'pem'])
    const key = join(dir, 'key.pem')
    writeFileSync(key, (await step(['pki', '--gen', '--type', 'rsa', '--size', '2048', '--outform', 'pem'])).stdout, { mode: 0o600 })
    const { signer, others } = strongswanCaFiles(dir)
    const sans = (typeof options.san === 'string' ? [options.san] : (options.san ?? [])).flatMap((san) => ['--san', san])
    const run = await step([
      'pki', '--scep', '--url', options.url, '--in', key, '--dn', options.dn, ...sans, '--password', options.challenge,
      '--cacert-enc', signer, '--cacert-sig', signer, ...others.flatMap((f) => ['--cacert', f]),
      // A PENDING answer makes pki poll (every 60 s, for ever, by default): poll briefly, then give up with a message.
      '--cipher', options.cipher, '--interval', '1', '--maxpolltime', '5', '--outform', 'pem',
    ])
    if (!run.stdout.includes('-----BEGIN CERTIFICATE-----')) throw new ScepClientError('strongswan', run)
    return issued(dir, options.dir, run.stdout, key, run)
  })
}

// ---- certmonger ----------------------------------------------------------------------------

export interface CertmongerOptions extends ClientOptions {
  /** The CA certificate(s) the server's CertRep signer chains to (`getcert add-scep-ca -N`): without them certmonger has no anchor. */
  caPem: string
  challenge: string
  /** e.g. "CN=dev-cm,O=Example". */
  subject: string
  email?: string
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** The script certmonger's `-c` runs (getcert finds the daemon through CERTMONGER_PVT_ADDRESS, set by certmonger). */
function certmongerScript(dir: string, options: CertmongerOptions, waitSeconds: number): string {
  const q = shellQuote
  const email = options.email ? ` -E ${q(options.email)}` : ''
  return [
    `getcert add-scep-ca -c scep -u ${q(options.url)} -N ${q(join(dir, 'ca.pem'))}`,
    // Bounded on its own, so that `getcert list` still reports the state when -w never settles.
    `timeout ${waitSeconds} getcert request -c scep -I enroll -k ${q(join(dir, 'key.pem'))} -f ${q(join(dir, 'cert.pem'))} -N ${q(options.subject)}${email} -L ${q(options.challenge)} -w -v`,
    'getcert list -i enroll',
  ].join('\n')
}

function certmongerStatus(listing: string): CertmongerStatus {
  const state = /^\s*status: (\S+)/m.exec(listing)?.[1]
  const caError = /^\s*ca-error: (.*)$/m.exec(listing)?.[1]
  return { ...(state ? { state } : {}), ...(caError ? { caError } : {}) }
}

/**
 * Enrolls with the certmonger daemon run standalone: private socket (`-L -P`), no D-Bus, no
 * systemd, its state in the working folder; `-c` runs getcert and the daemon exits with it.
 * On failure the ScepClientError's `certmonger` has the state (see {@link certmongerRejected}).
 */
export function certmongerEnroll(options: CertmongerOptions): Promise<Enrollment> {
  return inFreshDir(options.dir, 'certmonger', async (dir) => {
    const state = Object.fromEntries(['requests', 'cas', 'tmp', 'local'].map((sub) => [sub, join(dir, sub)]))
    for (const path of Object.values(state)) mkdirSync(path)
    writeFileSync(join(dir, 'ca.pem'), options.caPem)
    const seconds = Math.ceil((options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000)
    writeFileSync(join(dir, 'enroll.sh'), certmongerScript(dir, options, Math.max(1, seconds - 3)))
    const env = { CERTMONGER_REQUESTS_DIR: state.requests!, CERTMONGER_CAS_DIR: state.cas!, CERTMONGER_TMPDIR: state.tmp!, CERTMONGER_LOCAL_CA_DIR: state.local! }
    // -d 1: the daemon's log (stderr) is where decryption and signature errors show.
    const run = await runBounded(['certmonger', '-d', '1', '-n', '-L', '-P', join(dir, 'certmonger.sock'), '-c', `sh ${join(dir, 'enroll.sh')}`], dir, options, env)
    const status = certmongerStatus(run.stdout)
    const cert = join(dir, 'cert.pem')
    if (status.state !== 'MONITORING' || !existsSync(cert)) throw new ScepClientError('certmonger', run, status)
    return issued(dir, options.dir, readFileSync(cert, 'utf8'), join(dir, 'key.pem'), run)
  })
}

// ---- a private network namespace (for a stand-in server that binds every interface) -------------

/** Network + mount namespaces with only a loopback interface; everything started in it is killed at teardown. */
export interface PrivateNetwork {
  /** The argv that runs `argv` inside, in `cwd` (nsenter resets the working folder). */
  wrap: (argv: readonly string[], cwd: string) => string[]
  /** Starts a server inside, its output appended to `logFile`; killed at teardown. */
  start: (argv: readonly string[], cwd: string, logFile: string) => void
  /** Resolves once something accepts connections on 127.0.0.1:port inside; throws after `timeoutMs` (default 10 s). */
  waitForPort: (port: number, timeoutMs?: number) => Promise<void>
}

/**
 * The OpenSSL configuration bind-mounted over /etc/ssl/openssl.cnf with `legacyOpenssl`: it
 * loads the legacy provider, for clients whose server answers with single DES (micromdm's
 * scepserver does) and which, like certmonger, clear their environment so OPENSSL_CONF cannot help.
 */
const LEGACY_OPENSSL_CNF = `openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
legacy = legacy_sect
[default_sect]
activate = 1
[legacy_sect]
activate = 1
`

function killGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve()
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()))
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {
    return Promise.resolve()
  }
  return Promise.race([closed, sleep(2_000)])
}

/** The first line a process prints (the holder's pid), within `ms`. */
function firstLine(child: ChildProcess, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`no pid from unshare within ${ms} ms: ${out}`)), ms)
    child.stdout!.on('data', (d) => {
      out += d
      if (out.includes('\n')) {
        clearTimeout(timer)
        resolve(out.split('\n')[0]!.trim())
      }
    })
    child.once('close', (status) => {
      clearTimeout(timer)
      reject(new Error(`unshare exited (${status}) before the namespace was ready: ${out}`))
    })
  })
}

/**
 * Makes the namespaces: a holder (`unshare -n -m`, a sleep of at most `maxLifetimeSeconds`,
 * default 600) brings lo up and, with `legacyOpenssl`, bind-mounts {@link LEGACY_OPENSSL_CNF}
 * over /etc/ssl/openssl.cnf, in its private mount namespace only (the host's file is untouched).
 */
export async function privateNetwork(t: Teardown, options: { legacyOpenssl?: boolean; maxLifetimeSeconds?: number } = {}): Promise<PrivateNetwork> {
  const dir = mkdtempSync(join(tmpdir(), 'kagi-netns-'))
  const lifetime = String(options.maxLifetimeSeconds ?? 600)
  const children: ChildProcess[] = []
  // For an exit that skips teardown; a SIGKILLed test process leaves the rest to `timeout`.
  const killAll = (): void => {
    for (const child of children) {
      try {
        if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL')
      } catch {
        /* already gone */
      }
    }
  }
  process.once('exit', killAll)
  t.teardown(async () => {
    process.removeListener('exit', killAll)
    for (const child of children.reverse()) await killGroup(child)
    rmSync(dir, { recursive: true, force: true })
  })
  // Detached: each child leads its own process group, so killGroup reaches its descendants too.
  const launch = (argv: string[], stdio: 'pipe' | number): ChildProcess => {
    const child = spawn('timeout', ['--kill-after=2', lifetime, ...argv], { detached: true, stdio: ['ignore', stdio, stdio] })
    child.on('error', () => {}) // reported through 'close' and the callers' bounded waits
    children.push(child)
    return child
  }
  const setup = ['ip link set lo up']
  if (options.legacyOpenssl) {
    writeFileSync(join(dir, 'openssl.cnf'), LEGACY_OPENSSL_CNF)
    setup.push(`mount --bind ${shellQuote(join(dir, 'openssl.cnf'))} /etc/ssl/openssl.cnf`)
  }
  const holder = launch(['unshare', '-n', '-m', '--kill-child', 'sh', '-c', `${setup.join(' && ')} && echo $$ && exec sleep ${lifetime}`], 'pipe')
  const pid = await firstLine(holder, 5_000)
  const wrap = (argv: readonly string[], cwd: string): string[] => ['nsenter', '-t', pid, '-n', '-m', `--wd=${cwd}`, '--', ...argv]
  return {
    wrap,
    start: (argv, cwd, logFile) => {
      const log = openSync(logFile, 'a')
      launch(wrap(argv, cwd), log)
      closeSync(log)
    },
    waitForPort: async (port, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs
      // bash's /dev/tcp connects from inside the namespace, where the test process cannot reach.
      const probe = ['bash', '-c', `: </dev/tcp/127.0.0.1/${port}`]
      while (Date.now() < deadline) {
        if ((await runBounded(wrap(probe, dir), dir, { timeoutMs: 2_000 })).status === 0) return
        await sleep(50)
      }
      throw new Error(`nothing listens on 127.0.0.1:${port} in the namespace after ${timeoutMs} ms`)
    },
  }
}
