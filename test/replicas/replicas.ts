import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { derToPem, parseCrl, pemToDer } from '../../ca/index.js'
import { freePort } from '../support/free-port.js'
import { runKagi, startKagi, type KagiProcess } from '../support/kagi-process.js'
import { run, runAsync } from '../support/openssl.js'

/** The tap Test surface these helpers use. */
interface Teardown {
  teardown: (fn: () => unknown) => void
}

/** Why the two-process tests do not run on the PGlite pass. */
export const NEEDS_POSTGRES = 'needs PostgreSQL: replicas share one database'

/** A running `kagi serve` and where it listens. */
export interface Replica {
  process: KagiProcess
  url: string
  env: Record<string, string>
}

/**
 * The environment of one replica: its own port and data directory, the
 * shared database, passphrase and public URL (stored with the CA by the
 * first replica, and accepted by the second because it is the same).
 */
export function replicaEnv(t: Teardown, common: { databaseUrl: string; publicUrl: string; extra?: Record<string, string> }, port: number): Record<string, string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-replica-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dataDir,
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: common.databaseUrl,
    KAGI_DATA_DIR: dataDir,
    KAGI_CA_PASSPHRASE: 'replica-test-passphrase-0123456789',
    KAGI_PUBLIC_URL: common.publicUrl,
    KAGI_LOG_LEVEL: 'warn',
    ...common.extra,
  }
}

/** Starts one replica on a free port (or `port`). */
export async function startReplica(t: Teardown, common: { databaseUrl: string; publicUrl: string; extra?: Record<string, string> }, port?: number): Promise<Replica> {
  const p = port ?? (await freePort())
  const env = replicaEnv(t, common, p)
  const process = await startKagi(t, env, { readyTimeoutMs: 60_000 })
  return { process, url: `http://127.0.0.1:${p}`, env }
}

/** `kagi token create --role admin`: the token is the last line printed. */
export function adminToken(env: Record<string, string>): string {
  const r = runKagi(env, ['token', 'create', '--role', 'admin', '--name', `replica-test-${Date.now()}`])
  if (r.status !== 0) throw new Error(`kagi token create failed: ${r.stderr}`)
  return r.stdout.trim().split('\n').at(-1)!.trim()
}

/** One CSR (an EC key kagi never sees), reused for every issuance of a test. */
export function makeCsr(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'kagi-csr-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const r = run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-subj', '/CN=ignored'])
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`)
  return r.stdout
}

/** What POST /api/v1/certificates answered. */
export interface Issued {
  status: number
  serial?: string
  certificate?: string
  body: string
}

/** Issues a user certificate for `email` on a new device `name`, from `csr`. */
export async function issue(url: string, token: string, csr: string, email: string, name: string, signal?: AbortSignal): Promise<Issued> {
  const res = await fetch(`${url}/api/v1/certificates`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ profile: 'user', user: email, device: { name, platform: 'macos', serialNumber: name }, csr }),
    signal,
  })
  const body = await res.text()
  if (res.status !== 201) return { status: res.status, body }
  const json = JSON.parse(body) as { serial: string; certificate: string }
  return { status: res.status, serial: json.serial, certificate: json.certificate, body }
}

/** Revokes `serial` (keyCompromise) and returns the HTTP status. */
export async function revoke(url: string, token: string, serial: string): Promise<number> {
  const res = await fetch(`${url}/api/v1/certificates/${serial}/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'keyCompromise' }),
  })
  await res.arrayBuffer()
  return res.status
}

/** The issuing CA certificate as a PEM file (openssl ocsp -issuer). */
export async function issuerFile(t: Teardown, url: string): Promise<string> {
  const der = Buffer.from(await (await fetch(`${url}/pki/issuing.crt`)).arrayBuffer())
  const dir = mkdtempSync(join(tmpdir(), 'kagi-issuer-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'issuing.pem')
  writeFileSync(path, derToPem(der, 'CERTIFICATE'))
  return path
}

/**
 * What `openssl ocsp` reads from the replica at `url` about `serial`:
 * "good", "revoked", "unknown", or the error. Without a nonce by default:
 * that is the request kagi answers from its pre-signed cache, the one a
 * stale answer would come from.
 */
export async function ocspStatus(url: string, issuer: string, serial: string, options: { nonce?: boolean } = {}): Promise<string> {
  const r = await runAsync('openssl', ['ocsp', '-issuer', issuer, '-serial', `0x${serial}`, '-url', `${url}/ocsp`, '-noverify', ...(options.nonce ? [] : ['-no_nonce'])])
  const line = /: (good|revoked|unknown)\b/.exec(r.stdout)
  return line ? line[1]!.toLowerCase() : `error: ${r.status} ${r.stderr.trim().split('\n')[0]}`
}

/** The replica's current CRL: its number and the serials it lists (hex, as the API spells them). */
export async function crlOf(url: string): Promise<{ number: number; serials: Set<string> }> {
  const res = await fetch(`${url}/pki/crl`)
  if (res.status !== 200) throw new Error(`GET /pki/crl answered ${res.status}`)
  const crl = parseCrl(Buffer.from(await res.arrayBuffer()))
  return { number: crl.crlNumber ?? -1, serials: new Set(crl.entries.map((e) => e.serial.toLowerCase())) }
}

/** Polls `probe` every `everyMs` until it returns true or `withinMs` passed; returns the time taken, or undefined. */
export async function within(withinMs: number, everyMs: number, probe: () => Promise<boolean>): Promise<number | undefined> {
  const start = Date.now()
  for (;;) {
    if (await probe()) return Date.now() - start
    if (Date.now() - start > withinMs) return undefined
    await sleep(everyMs)
  }
}

/** The DER of a PEM certificate, for comparing a received certificate with the stored one. */
export function pemDer(pem: string): Buffer {
  return pemToDer(pem)
}

/**
 * A browser's cookie jar over fetch, for pages served by several replicas:
 * the cookies go to whichever replica is asked, as behind a load balancer.
 * Keeps the CSRF token of the last page, like test/support/session.ts.
 */
export class CookieJar {
  private readonly cookies = new Map<string, string>()
  csrf = ''

  /** Another jar with this one's cookies now: a second browser holding a copied cookie. */
  copy(): CookieJar {
    const other = new CookieJar()
    for (const [k, v] of this.cookies) other.cookies.set(k, v)
    other.csrf = this.csrf
    return other
  }

  private header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  private async remember(res: Response): Promise<{ status: number; body: string; location: string | null }> {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const [name, ...value] = pair!.split('=')
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name!.trim())
      else this.cookies.set(name!.trim(), value.join('='))
    }
    const body = await res.text()
    const token = /name="_csrf" value="([^"]+)"/.exec(body)
    if (token) this.csrf = token[1]!
    return { status: res.status, body, location: res.headers.get('location') }
  }

  async get(url: string) {
    return this.remember(await fetch(url, { headers: { cookie: this.header() }, redirect: 'manual' }))
  }

  /** Posts a form; with the current CSRF token unless `_csrf` is given ('' sends none). */
  async post(url: string, form: Record<string, string>) {
    const fields: Record<string, string> = { _csrf: this.csrf, ...form }
    if (fields._csrf === '') delete fields._csrf
    return this.remember(
      await fetch(url, {
        method: 'POST',
        headers: { cookie: this.header(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
        redirect: 'manual',
      }),
    )
  }
}
