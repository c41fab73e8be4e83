import { isIP } from 'node:net'
import { z } from 'zod'
import { caKeyTypes } from '../ca/index.js'

/** Raised when the environment holds a bad value; the message names the variable. */
export class ConfigError extends Error {}

const emptyAsUndefined = (value: unknown): unknown => (value === '' ? undefined : value)

/** Parses a duration such as "24h", "90m", "7d", "45s" or a bare number of seconds, to milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$/i.exec(text)
  if (!m) return undefined
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's').toLowerCase() as 's' | 'm' | 'h' | 'd']
  return Math.round(Number(m[1]) * unit)
}

function duration(name: string, fallback: string, min: number, max: number) {
  return z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .default(fallback)
      .transform((text, ctx) => {
        const ms = parseDuration(text)
        if (ms === undefined || ms < min || ms > max) {
          ctx.addIssue({ code: 'custom', message: `must be a duration such as 24h, 90m or 7d, between ${min / 60_000} minutes and ${max / 86_400_000} days` })
          return z.NEVER
        }
        return ms
      }),
  )
}

const schema = z.object({
  PORT: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).max(65535).default(3000)),
  HOST: z.preprocess(emptyAsUndefined, z.string().min(1).default('127.0.0.1')),
  KAGI_PUBLIC_URL: z.preprocess(
    emptyAsUndefined,
    z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL such as https://kagi.example.com' })
      .refine((u) => !new URL(u).search && !new URL(u).hash, 'must not have a query or fragment')
      .optional(),
  ),
  DATABASE_URL: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL (leave it unset for the embedded database)')
      .optional(),
  ),
  KAGI_DB_POOL_SIZE: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).max(200).default(10)),
  KAGI_DATA_DIR: z.preprocess(emptyAsUndefined, z.string().min(1).default('./data')),
  KAGI_CA_PASSPHRASE: z.preprocess(emptyAsUndefined, z.string().optional()),
  KAGI_CA_PASSPHRASE_FILE: z.preprocess(emptyAsUndefined, z.string().optional()),
  KAGI_CA_KEY_TYPE: z.preprocess(emptyAsUndefined, z.enum(caKeyTypes, { error: `must be one of ${caKeyTypes.join(', ')}` }).default('ecdsa-p256')),
  KAGI_CA_NAME: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .max(48, 'must be at most 48 characters (it becomes part of the CA common names)')
      .regex(/^[\p{L}\p{N} .,'&()-]+$/u, 'may contain letters, digits, spaces and . , \' & ( ) -')
      .default('kagi'),
  ),
  KAGI_CRL_VALIDITY: duration('KAGI_CRL_VALIDITY', '24h', 5 * 60_000, 30 * 86_400_000),
  KAGI_OCSP_VALIDITY: duration('KAGI_OCSP_VALIDITY', '1h', 60_000, 7 * 86_400_000),
  KAGI_LOG_LEVEL: z.preprocess(emptyAsUndefined, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')),
  NODE_ENV: z.preprocess(emptyAsUndefined, z.string().optional()),
})

/** kagi's configuration, parsed once from the environment and frozen. */
export interface Config {
  port: number
  host: string
  /** Base URL put into every certificate (CRL DP, AIA), without a trailing slash. */
  publicUrl: string
  databaseUrl?: string
  dbPoolSize: number
  dataDir: string
  caPassphrase?: string
  caPassphraseFile?: string
  caKeyType: (typeof caKeyTypes)[number]
  caName: string
  /** CRL lifetime (thisUpdate → nextUpdate) in ms; CRLs are re-signed at half of it. Default 24 h. */
  crlValidityMs: number
  /** OCSP response lifetime (nextUpdate) in ms; cached answers are re-signed at half of it. Default 1 h. */
  ocspValidityMs: number
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  production: boolean
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1'
  return isIP(host) === 6 ? `[${host}]` : host
}

/**
 * Parses and validates the environment (only this module reads it). Throws
 * ConfigError naming every bad variable and why.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const parsed = schema.safeParse(env)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`)
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`)
  }
  const e = parsed.data
  if (e.KAGI_CA_PASSPHRASE && e.KAGI_CA_PASSPHRASE_FILE) {
    throw new ConfigError('invalid configuration:\n  set KAGI_CA_PASSPHRASE or KAGI_CA_PASSPHRASE_FILE, not both')
  }
  const publicUrl = (e.KAGI_PUBLIC_URL ?? `http://${hostForUrl(e.HOST)}:${e.PORT}`).replace(/\/+$/, '')
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    databaseUrl: e.DATABASE_URL,
    dbPoolSize: e.KAGI_DB_POOL_SIZE,
    dataDir: e.KAGI_DATA_DIR,
    caPassphrase: e.KAGI_CA_PASSPHRASE,
    caPassphraseFile: e.KAGI_CA_PASSPHRASE_FILE,
    caKeyType: e.KAGI_CA_KEY_TYPE,
    caName: e.KAGI_CA_NAME,
    crlValidityMs: e.KAGI_CRL_VALIDITY,
    ocspValidityMs: e.KAGI_OCSP_VALIDITY,
    logLevel: e.KAGI_LOG_LEVEL,
    production: e.NODE_ENV === 'production',
  })
}
