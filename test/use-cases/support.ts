/**
 * Shared pieces of the use-case tests: the hostile-input corpus, row counts,
 * URL/form encoding that can carry any UTF-16 string, a signed-in page, the
 * CLI, and the "one active certificate per (device, profile)" check.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { sql, type Kysely } from 'kysely'
import type { Test } from 'tap'
import { openDatabase } from '../../src/db/connect.js'
import type { Database } from '../../src/db/database.js'
import { build, freshPostgresUrl, type TestApp } from '../helper.js'
import { PageClient } from '../support/session.js'

/** One hostile (or good) value with a readable label for test names. */
export interface Case {
  label: string
  value: string
}

/** Names: characters that have no business in a device name, serial number or email. */
export const hostileNames: readonly Case[] = [
  { label: 'a control character (U+0001)', value: 'Mac\u0001Book' },
  { label: 'NUL', value: 'Mac\u0000Book' },
  { label: 'U+FFFE', value: 'Mac\uFFFEBook' },
  { label: 'U+FFFF', value: 'Mac\uFFFFBook' },
  { label: 'an unpaired surrogate (U+D800)', value: 'Mac\uD800Book' },
  { label: 'a C1 control (U+0085)', value: 'Mac\u0085Book' },
  { label: 'a bidi override (U+202E)', value: 'Mac\u202EkooB' },
  { label: 'bidi isolates (U+2066…U+2069)', value: '\u2066x\u2069' },
  { label: '300 characters', value: 'a'.repeat(300) },
]

/**
 * Host names: the name corpus (each one a valid host name once its bad
 * character is removed, except the 300-character one) and what a DNS name
 * in a certificate must not be.
 */
export const hostileHostnames: readonly Case[] = [
  ...hostileNames,
  { label: 'an IPv4 address', value: '10.1.2.3' },
  { label: 'an IPv6 address', value: '::1' },
  { label: 'a wildcard', value: '*.corp.example.com' },
  { label: 'a SAN injection (a,DNS:b)', value: 'a,DNS:b' },
  { label: 'a label over 63 characters', value: `${'a'.repeat(64)}.corp.example.com` },
  { label: 'an underscore', value: 'pc_1.corp.example.com' },
  { label: 'a label ending in a hyphen', value: 'pc-.corp.example.com' },
]

/** Emails carrying each hostile name: `alice.<value>@example.com` is a valid address without the bad character. */
export const hostileEmails: readonly Case[] = hostileNames.map((c) => ({ label: c.label, value: `alice.${c.value}@example.com` }))

/** Good names that must be accepted (the positive control: refusals are specific). */
export const goodNames: readonly Case[] = [
  { label: "an apostrophe (Alice's MacBook Pro)", value: "Alice's MacBook Pro" },
  { label: 'Japanese (山田のMacBook)', value: '山田のMacBook' },
]

const isLoneSurrogateAt = (s: string, i: number): boolean => {
  const c = s.charCodeAt(i)
  if (c >= 0xd800 && c <= 0xdbff) {
    const d = s.charCodeAt(i + 1)
    return !(d >= 0xdc00 && d <= 0xdfff)
  }
  if (c >= 0xdc00 && c <= 0xdfff) {
    const p = i > 0 ? s.charCodeAt(i - 1) : 0
    return !(p >= 0xd800 && p <= 0xdbff)
  }
  return false
}

/** True when the value holds an unpaired surrogate. */
export function hasLoneSurrogate(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (isLoneSurrogateAt(value, i)) return true
  return false
}

/**
 * A case's label where it travels in a URL or form: an unpaired surrogate
 * cannot be percent-encoded as UTF-8, so it goes as %ED%A0%80.
 */
export const urlLabel = (c: Case): string => (hasLoneSurrogate(c.value) ? `${c.label}, sent as %ED%A0%80 (not UTF-8)` : c.label)

/** True when a value can be passed as a command-line argument unchanged (no NUL, no unpaired surrogate). */
export const argvSafe = (value: string): boolean => !value.includes('\u0000') && !hasLoneSurrogate(value)

/**
 * Percent-encodes any UTF-16 string. encodeURIComponent throws on an
 * unpaired surrogate and URLSearchParams turns it into U+FFFD; here it is sent
 * as its generalized UTF-8 bytes (%ED%A0%80 for U+D800), which is not valid
 * UTF-8 and which the server's query-string parser leaves undecoded.
 */
export function encode(value: string): string {
  let out = ''
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (isLoneSurrogateAt(value, i)) {
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('')
    } else if (c >= 0xd800 && c <= 0xdbff) {
      out += encodeURIComponent(value.slice(i, i + 2))
      i++
    } else {
      out += encodeURIComponent(value[i]!)
    }
  }
  return out
}

/** A query string or form body from fields (undefined ones left out), encoded with {@link encode}. */
export const formOf = (fields: Record<string, string | undefined>): string =>
  Object.entries(fields)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([k, v]) => `${encode(k)}=${encode(v)}`)
    .join('&')

/** Rows in the four tables an issuance writes. */
export interface RowCounts {
  app_user: number
  device: number
  certificate: number
  audit_event: number
}

export async function rowCounts(db: Kysely<Database>): Promise<RowCounts> {
  const r = await sql<RowCounts>`select
      (select count(*) from app_user)::int as app_user,
      (select count(*) from device)::int as device,
      (select count(*) from certificate)::int as certificate,
      (select count(*) from audit_event)::int as audit_event`.execute(db)
  const row = r.rows[0]!
  return { app_user: Number(row.app_user), device: Number(row.device), certificate: Number(row.certificate), audit_event: Number(row.audit_event) }
}

/** Asserts that nothing was written since `before`. */
export async function assertNoNewRows(t: Test, db: Kysely<Database>, before: RowCounts, label: string): Promise<void> {
  t.same(await rowCounts(db), before, `${label}: no new rows in app_user, device, certificate, audit_event`)
}

/** Printable, bounded description of a response for assertion messages (never raw binary or control bytes). */
export function brief(res: LightMyRequestResponse): string {
  const type = String(res.headers['content-type'] ?? '')
  const text = /json|html|text/.test(type) ? JSON.stringify(res.body.slice(0, 240)) : `<${type || 'no content type'}, ${res.rawPayload.length} bytes>`
  return `${res.statusCode} ${text}`
}

/** The JSON body, or undefined when it is not JSON. */
export function jsonOf(res: LightMyRequestResponse): unknown {
  try {
    return res.json()
  } catch {
    return undefined
  }
}

/**
 * Asserts a JSON API refusal: the status, `{error:{code,message}}`, and a
 * message naming the field.
 */
export function assertJsonError(t: Test, res: LightMyRequestResponse, status: number, field: RegExp, label: string): void {
  t.equal(res.statusCode, status, `${label}: status ${status} (got ${brief(res)})`)
  const body = jsonOf(res) as { error?: { code?: unknown; message?: unknown } } | undefined
  t.ok(typeof body?.error?.code === 'string' && typeof body.error.message === 'string', `${label}: answers {error:{code,message}}`)
  t.match(String(body?.error?.message ?? ''), field, `${label}: the message names the field`)
}

/** A fresh app with alice signed in through the development sign-in (sign-in writes a user and an audit row). */
export async function signedInApp(t: Test, options: { email?: string; env?: Record<string, string> } = {}): Promise<TestApp & { page: PageClient }> {
  // A loopback public URL: the development sign-in is offered only there.
  const ctx = await build(t, { env: { KAGI_PUBLIC_URL: 'http://127.0.0.1:3000', ...options.env } })
  const page = new PageClient(ctx.app)
  const signIn = await page.devSignIn(options.email ?? 'alice@example.com')
  if (signIn.statusCode !== 303) throw new Error(`development sign-in failed: ${brief(signIn)}`)
  await page.get('/')
  return { ...ctx, page }
}

/**
 * Posts a page form with the client's cookies and CSRF token, encoding every
 * value with {@link encode} (so an unpaired surrogate can be sent), then
 * reloads the home page so the client's cookies and token stay current.
 */
export async function postPageForm(app: FastifyInstance, page: PageClient, url: string, fields: Record<string, string | undefined>): Promise<LightMyRequestResponse> {
  const res = await app.inject({
    method: 'POST',
    url,
    payload: formOf({ _csrf: page.csrf, ...fields }),
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: page.cookieHeader() },
  })
  await page.get('/')
  return res
}

/** Splits a list into chunks: the page's forms are rate limited to 10 a minute, so each chunk gets a fresh app. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

const bin = join(import.meta.dirname, '..', '..', 'bin', 'kagi.js')

/** Result of one CLI run. */
export interface CliResult {
  status: number | null
  stdout: string
  stderr: string
}

/** One kagi installation for CLI tests: its own data dir and, in the PostgreSQL pass, its own database. */
export async function cliInstallation(t: Test, extraEnv: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-use-case-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env: Record<string, string> = {
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? '/tmp',
    KAGI_DATA_DIR: dataDir,
    KAGI_CA_PASSPHRASE: 'cli-test-passphrase-0123456789',
    KAGI_PUBLIC_URL: 'http://kagi.test',
    ...extraEnv,
  }
  const url = process.env.DATABASE_URL ? await freshPostgresUrl(t) : undefined
  if (url) env.DATABASE_URL = url
  const kagi = (...args: string[]): CliResult => {
    const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8', timeout: 120_000 })
    return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') }
  }
  /** Opens the installation's database (after a kagi command has exited: PGlite has one writer) and runs fn. */
  const withDb = async <T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> => {
    const handle = await openDatabase(url ? { url, dataDir: '', poolSize: 1 } : { dataDir, purpose: 'use-case test' })
    try {
      return await fn(handle.db)
    } finally {
      await handle.close()
    }
  }
  const init = kagi('ca', 'init')
  if (init.status !== 0) throw new Error(`kagi ca init failed: ${init.stderr}`)
  return { dataDir, env, kagi, withDb, counts: () => withDb(rowCounts) }
}

/** A CLI refusal: non-zero exit, a message (no stack trace). */
export function assertCliRefused(t: Test, r: CliResult, message: RegExp, label: string): void {
  t.ok(r.status !== 0 && r.status !== null, `${label}: non-zero exit status (got ${r.status}; stdout ${JSON.stringify(r.stdout.slice(0, 200))})`)
  t.match(r.stderr, message, `${label}: stderr says why (got ${JSON.stringify(r.stderr.slice(0, 300))})`)
  t.notMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, `${label}: no stack trace`)
}

/** The certificates of one device and profile. */
export async function certificatesOf(db: Kysely<Database>, deviceId: string, profile: 'user' | 'device') {
  return db
    .selectFrom('certificate')
    .select(['serial', 'status', 'revocation_reason', 'subject'])
    .where('device_id', '=', deviceId)
    .where('profile', '=', profile)
    .orderBy('issued_at')
    .execute()
}

/**
 * The invariant: exactly one active certificate for (device, profile), every
 * other one revoked as superseded. `total` is how many the scenario issued,
 * so a scenario that silently issued less cannot pass.
 */
export async function assertOneActive(t: Test, db: Kysely<Database>, deviceId: string, profile: 'user' | 'device', total: number, label: string): Promise<void> {
  const rows = await certificatesOf(db, deviceId, profile)
  t.equal(rows.length, total, `${label}: ${total} ${profile} certificate(s) issued for the device`)
  const active = rows.filter((r) => r.status === 'active')
  t.equal(active.length, 1, `${label}: exactly one active ${profile} certificate (found ${active.length} of ${rows.length})`)
  const others = rows.filter((r) => r.status !== 'active')
  t.same(
    others.map((r) => ({ status: r.status, reason: r.revocation_reason })),
    others.map(() => ({ status: 'revoked', reason: 'superseded' })),
    `${label}: every other ${profile} certificate of the device is revoked as superseded`,
  )
}
