import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { commandExists } from './components.js'
import { run } from './openssl.js'

/** Where Debian's simplesamlphp package puts the web root. */
export const SIMPLESAMLPHP_WWW = '/usr/share/simplesamlphp/www'
/** What to install for {@link startIdp} (php-xml is NOT pulled in by simplesamlphp but is required). */
export const IDP_INSTALL_HINT = 'apt-get install -y simplesamlphp php-cli php-xml php-mbstring php-curl'
export const EMAIL_NAMEID_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256'
const HTTP_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST'

/** A user of the test IdP; attributes are sent with OneLogin's names (User.email, User.FirstName, User.LastName, memberOf). */
export interface IdpUser {
  username: string
  password: string
  email: string
  firstName: string
  lastName: string
  groups: string[]
  /** More attributes, sent as given (name → values). */
  attributes?: Record<string, string[]>
}

export const defaultIdpUsers: readonly IdpUser[] = Object.freeze([
  { username: 'alice', password: 'alice-pass', email: 'alice@example.com', firstName: 'Alice', lastName: 'Example', groups: ['Employees', 'VPN Admins'] },
  { username: 'bob', password: 'bob-pass', email: 'bob@example.com', firstName: 'Bob', lastName: 'Example', groups: ['Employees'] },
])

export interface StartIdpOptions {
  /** The SP's entityID (issuer of its AuthnRequests, audience of the assertions). */
  spEntityId: string
  /** The SP's HTTP-POST AssertionConsumerService URL. */
  acsUrl: string
  /** Defaults to {@link defaultIdpUsers}. */
  users?: readonly IdpUser[]
  /** The server is killed after this long even if teardown never runs (default 900 s). */
  maxLifetimeSeconds?: number
}

export interface IdpHandle {
  /** `<baseUrl>saml2/idp/metadata.php` */
  entityId: string
  metadataUrl: string
  /** The IdP's metadata as served (EntityDescriptor, signing KeyDescriptor = certPem). */
  metadataXml: string
  /** HTTP-Redirect SingleSignOnService. */
  ssoUrl: string
  /** HTTP-Redirect SingleLogoutService. */
  sloUrl: string
  /** The IdP's signing certificate (PEM). */
  certPem: string
  keyPem: string
  /** `http://127.0.0.1:<port>/` */
  baseUrl: string
  /** The temp directory holding config/, cert/, metadata/, log/, ... (removed by stop()). */
  dir: string
  users: readonly IdpUser[]
  /** Last lines of the php server log and SimpleSAMLphp's own log, for failure messages. */
  logTail: (lines?: number) => string
  /** Kills the php server (whole process group) and removes the directory; also run at t.teardown. */
  stop: () => Promise<void>
}

/** True when SimpleSAMLphp, php and php's DOM extension are present. */
export function idpAvailable(): boolean {
  if (!existsSync(join(SIMPLESAMLPHP_WWW, 'index.php'))) return false
  if (!commandExists('php')) return false
  const r = spawnSync('php', ['-r', 'exit(class_exists("DOMDocument")?0:1);'], { timeout: 10_000 })
  return r.status === 0
}

// ---- PHP source generation ------------------------------------------------------------------

class PhpRaw {
  constructor(readonly code: string) {}
}

function phpString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

function php(value: unknown, indent = ''): string {
  if (value instanceof PhpRaw) return value.code
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'string') return phpString(value)
  if (typeof value === 'number') return String(value)
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  const inner = indent + '    '
  if (Array.isArray(value)) return `[\n${value.map((v) => `${inner}${php(v, inner)},\n`).join('')}${indent}]`
  const entries = Object.entries(value as Record<string, unknown>)
  return `[\n${entries.map(([k, v]) => `${inner}${phpString(k)} => ${php(v, inner)},\n`).join('')}${indent}]`
}

function userAttributes(u: IdpUser): Record<string, string[]> {
  return {
    'User.email': [u.email],
    'User.FirstName': [u.firstName],
    'User.LastName': [u.lastName],
    memberOf: [...u.groups],
    ...u.attributes,
  }
}

function writeConfig(base: string, baseUrl: string, opts: StartIdpOptions, users: readonly IdpUser[]): void {
  const config = {
    baseurlpath: baseUrl,
    certdir: `${base}/cert/`,
    loggingdir: `${base}/log/`,
    datadir: `${base}/data/`,
    tempdir: `${base}/tmp`,
    metadatadir: `${base}/metadata/`,
    'metadata.sources': [{ type: 'flatfile' }],
    secretsalt: randomBytes(16).toString('hex'),
    'auth.adminpassword': randomBytes(12).toString('hex'),
    technicalcontact_name: 'Test Admin',
    technicalcontact_email: 'na@example.org',
    timezone: 'UTC',
    'enable.saml20-idp': true,
    'module.enable': { exampleauth: true, core: true, saml: true, admin: true },
    'logging.level': new PhpRaw('SimpleSAML\\Logger::DEBUG'),
    'logging.handler': 'file',
    'logging.logfile': 'simplesamlphp.log',
    showerrors: true,
    'store.type': 'phpsession',
    'session.phpsession.savepath': `${base}/sessions`,
    // plain http on loopback
    'session.cookie.secure': false,
    'session.cookie.samesite': null,
    'language.cookie.secure': false,
    'language.cookie.samesite': null,
  }
  const userpass: Record<string, unknown> = {}
  for (const u of users) {
    if (u.username.includes(':')) throw new Error(`IdP user name must not contain ':' (${u.username})`)
    userpass[`${u.username}:${u.password}`] = userAttributes(u)
  }
  // exampleauth:UserPass takes the module name at index 0 and 'user:pass' => attributes entries
  const userPassSource = new PhpRaw(`array_merge(['exampleauth:UserPass'], ${php(userpass, '    ')})`)
  const authsources = { admin: ['core:AdminPassword'], 'example-userpass': userPassSource }
  const hosted = {
    host: '__DEFAULT__',
    privatekey: 'idp.pem',
    certificate: 'idp.crt',
    auth: 'example-userpass',
    'signature.algorithm': RSA_SHA256,
    NameIDFormat: EMAIL_NAMEID_FORMAT,
    'simplesaml.nameidattribute': 'User.email',
    'attributes.NameFormat': 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    'saml20.sign.assertion': true,
    'saml20.sign.response': true,
  }
  const remote = {
    AssertionConsumerService: [{ Binding: HTTP_POST, Location: opts.acsUrl }],
    NameIDFormat: EMAIL_NAMEID_FORMAT,
    'simplesaml.nameidattribute': 'User.email',
    'signature.algorithm': RSA_SHA256,
    'saml20.sign.assertion': true,
    'saml20.sign.response': true,
    'validate.authnrequest': false,
  }
  const files: Record<string, string> = {
    'config/config.php': `<?php\n$config = ${php(config)};\n`,
    'config/authsources.php': `<?php\n$config = ${php(authsources)};\n`,
    'metadata/saml20-idp-hosted.php': `<?php\n$metadata['__DYNAMIC:1__'] = ${php(hosted)};\n`,
    'metadata/saml20-sp-remote.php': `<?php\n$metadata[${phpString(opts.spEntityId)}] = ${php(remote)};\n`,
  }
  for (const [name, content] of Object.entries(files)) {
    const path = join(base, name)
    writeFileSync(path, content)
    const lint = run('php', ['-l', path])
    if (lint.status !== 0) throw new Error(`generated ${name} does not parse: ${lint.stdout}${lint.stderr}\n${content}`)
  }
}

// ---- process handling -----------------------------------------------------------------------

/** A free loopback port: listen on port 0, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => (port ? resolve(port) : reject(new Error('no port'))))
    })
  })
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines - 1).join('\n')
  } catch {
    return `(no ${path})`
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

/** Resolves true when the child exits within `ms`. The timer is ref'd (the child is unref'd) and cleared on exit. */
function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit)
      resolve(exited(child))
    }, ms)
    const onExit = (): void => {
      clearTimeout(timer)
      resolve(true)
    }
    child.once('exit', onExit)
  })
}

async function killGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || exited(child)) return
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, sig) // php -S with workers: the master and its workers share our new process group
    } catch {
      /* already gone */
    }
  }
  signal('SIGTERM')
  if (!(await waitExit(child, 3_000))) {
    signal('SIGKILL')
    await waitExit(child, 2_000)
  }
}

interface Teardown {
  teardown: (fn: () => unknown) => void
}

/**
 * Starts Debian's SimpleSAMLphp as a SAML 2.0 IdP under `php -S 127.0.0.1:<free port>`
 * (config kept in a temp dir through SIMPLESAMLPHP_CONFIG_DIR), with the SP registered and
 * the given users (exampleauth:UserPass). The IdP signs Response and Assertion (RSA-SHA256),
 * NameID = User.email in emailAddress format. Stopped at t.teardown.
 */
export async function startIdp(t: Teardown, opts: StartIdpOptions): Promise<IdpHandle> {
  const users = opts.users ?? defaultIdpUsers
  const dir = mkdtempSync(join(tmpdir(), 'kagi-idp-'))
  const base = join(dir, 'simplesamlphp')
  for (const sub of ['config', 'cert', 'metadata', 'log', 'data', 'tmp', 'sessions']) mkdirSync(join(base, sub), { recursive: true })
  const phpLog = join(base, 'log', 'php-server.log')
  const samlLog = join(base, 'log', 'simplesamlphp.log')
  const logTail = (lines = 30): string => `--- php-server.log ---\n${tail(phpLog, lines)}\n--- simplesamlphp.log ---\n${tail(samlLog, lines)}`

  let child: ChildProcess | undefined
  let stopped = false
  const onExit = (): void => {
    if (child?.pid !== undefined && !exited(child)) {
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
  }
  process.once('exit', onExit)
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    if (child) await killGroup(child)
    process.removeListener('exit', onExit)
    rmSync(dir, { recursive: true, force: true })
  }
  t.teardown(stop)

  const keyPath = join(base, 'cert', 'idp.pem')
  const certPath = join(base, 'cert', 'idp.crt')
  const cert = run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-sha256', '-nodes', '-days', '3650', '-subj', '/CN=simplesamlphp-idp.test', '-keyout', keyPath, '-out', certPath])
  if (cert.status !== 0) throw new Error(`openssl req for the IdP cert failed: ${cert.stderr}`)

  // A free port can be taken between our probe and php's bind: retry a few times.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort()
    const baseUrl = `http://127.0.0.1:${port}/`
    writeConfig(base, baseUrl, opts, users)
    const out = openSync(phpLog, 'a')
    // `timeout` bounds an orphan's life if this process dies without running teardown (killed by the runner)
    const server = ['php', '-S', `127.0.0.1:${port}`, '-t', SIMPLESAMLPHP_WWW]
    const argv = commandExists('timeout') ? ['timeout', '--kill-after=5', String(opts.maxLifetimeSeconds ?? 900), ...server] : server
    child = spawn(argv[0]!, argv.slice(1), {
      cwd: base,
      env: { ...process.env, SIMPLESAMLPHP_CONFIG_DIR: join(base, 'config'), PHP_CLI_SERVER_WORKERS: '4' },
      stdio: ['ignore', out, out],
      detached: true, // own process group, so stop() reaches the workers too
    })
    closeSync(out)
    child.unref()
    const proc = child
    let spawnError: Error | undefined
    proc.once('error', (e) => (spawnError = e))

    const metadataUrl = `${baseUrl}saml2/idp/metadata.php`
    const deadline = Date.now() + 10_000
    let metadataXml: string | undefined
    let lastError = ''
    while (Date.now() < deadline && !exited(proc) && !spawnError) {
      try {
        const res = await fetch(metadataUrl, { signal: AbortSignal.timeout(2_000) })
        const body = await res.text()
        if (res.status === 200 && body.includes('EntityDescriptor')) {
          metadataXml = body
          break
        }
        lastError = `HTTP ${res.status}: ${body.slice(0, 500)}`
      } catch (e) {
        lastError = String(e)
      }
      await sleep(50)
    }
    if (metadataXml !== undefined) {
      return {
        entityId: metadataUrl,
        metadataUrl,
        metadataXml,
        ssoUrl: `${baseUrl}saml2/idp/SSOService.php`,
        sloUrl: `${baseUrl}saml2/idp/SingleLogoutService.php`,
        certPem: readFileSync(certPath, 'utf8'),
        keyPem: readFileSync(keyPath, 'utf8'),
        baseUrl,
        dir,
        users,
        logTail,
        stop,
      }
    }
    await killGroup(proc)
    const log = logTail()
    if (attempt < 3 && /Address already in use/i.test(log)) continue
    throw new Error(`SimpleSAMLphp did not answer ${metadataUrl} within 10 s (${spawnError ? String(spawnError) : lastError || 'php exited'})\n${log}`)
  }
  throw new Error(`SimpleSAMLphp could not bind a port\n${logTail()}`)
}

// ---- a browser-less login (fetch with a hand-made cookie jar) -------------------------------

/** Cookies by name, for one host (everything here is 127.0.0.1). */
export class CookieJar {
  private readonly cookies = new Map<string, string>()
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';')
      const eq = pair.indexOf('=')
      if (eq <= 0) continue
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      if (/max-age=0|expires=thu, 01[ -]jan[ -]1970/i.test(line) || value === 'deleted') this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }
}

function htmlDecode(s: string): string {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

/** The first <form> of a page: action, method and its hidden/named inputs. */
export function parseForm(html: string): { action: string; method: string; fields: Record<string, string> } | undefined {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html)
  if (!form) return undefined
  const attr = (tag: string, name: string): string | undefined => {
    const m = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i').exec(tag)
    return m ? htmlDecode(m[2] ?? m[3] ?? '') : undefined
  }
  const fields: Record<string, string> = {}
  for (const input of form[2]!.matchAll(/<input\b[^>]*>/gi)) {
    const name = attr(input[0], 'name')
    if (name !== undefined) fields[name] = attr(input[0], 'value') ?? ''
  }
  return { action: attr(form[1]!, 'action') ?? '', method: (attr(form[1]!, 'method') ?? 'get').toLowerCase(), fields }
}

export interface IdpLoginResult {
  /** Where the IdP's auto-POST form sends the response (the ACS URL). */
  action: string
  SAMLResponse: string
  RelayState?: string
  /** The login page URL that was filled in. */
  loginUrl: string
}

/** Thrown by {@link idpLogin} with the page the IdP showed, e.g. after a wrong password. */
export class IdpLoginError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(message)
  }
}

/**
 * Drives an SP-initiated login without a browser: GET the AuthnRequest URL, follow redirects to
 * loginuserpass.php, POST username/password/AuthState, follow redirects until the auto-POST form
 * to the ACS. Loopback only; every loop is bounded.
 */
export async function idpLogin(authorizeUrl: string, username: string, password: string): Promise<IdpLoginResult> {
  const jar = new CookieJar()
  const request = async (url: string, init: RequestInit = {}): Promise<{ url: string; res: Response; body: string }> => {
    let current = url
    let options = init
    for (let hop = 0; hop < 10; hop++) {
      const host = new URL(current).hostname
      if (host !== '127.0.0.1') throw new Error(`refusing to leave loopback: ${current}`)
      const res = await fetch(current, {
        ...options,
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
        headers: { ...(options.headers as Record<string, string> | undefined), cookie: jar.header() },
      })
      jar.take(res)
      const location = res.headers.get('location')
      if (res.status >= 300 && res.status < 400 && location) {
        await res.arrayBuffer()
        current = new URL(location, current).toString()
        options = {}
        continue
      }
      return { url: current, res, body: await res.text() }
    }
    throw new Error(`too many redirects from ${url}`)
  }

  const loginPage = await request(authorizeUrl)
  const form = parseForm(loginPage.body)
  if (loginPage.res.status !== 200 || !form || !('password' in form.fields || /name="password"/.test(loginPage.body))) {
    throw new IdpLoginError(`expected the login form at ${loginPage.url}, got HTTP ${loginPage.res.status}`, loginPage.res.status, loginPage.body)
  }
  const authState = form.fields.AuthState ?? new URL(loginPage.url).searchParams.get('AuthState') ?? ''
  const action = new URL(form.action || loginPage.url, loginPage.url).toString()
  const posted = await request(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...form.fields, username, password, AuthState: authState }).toString(),
  })
  const acsForm = parseForm(posted.body)
  if (!acsForm || acsForm.fields.SAMLResponse === undefined) {
    const reason = /Incorrect username or password/i.test(posted.body) ? 'Incorrect username or password' : `no SAMLResponse form (HTTP ${posted.res.status})`
    throw new IdpLoginError(`IdP login as ${username} failed: ${reason}`, posted.res.status, posted.body)
  }
  return { action: acsForm.action, SAMLResponse: acsForm.fields.SAMLResponse, RelayState: acsForm.fields.RelayState, loginUrl: loginPage.url }
}
