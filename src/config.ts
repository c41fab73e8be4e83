import { availableParallelism } from 'node:os'
import { isIP } from 'node:net'
import { z } from 'zod'
import { caKeyTypes, isHostname } from '../ca/index.js'
import { emptyAsAbsent } from './schemas/text.js'
import { rejoinDns } from './auth/admin-groups.js'

/** Raised when the environment holds a bad value; the message names the variable. */
export class ConfigError extends Error {}


/** Parses a duration such as "24h", "90m", "7d", "45s" or a bare number of seconds, to milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$/i.exec(text)
  if (!m) return undefined
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's').toLowerCase() as 's' | 'm' | 'h' | 'd']
  return Math.round(Number(m[1]) * unit)
}

function duration(name: string, fallback: string, min: number, max: number) {
  return z.preprocess(
    emptyAsAbsent,
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

const list = (text: string): string[] =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)

/** An address or CIDR block for KAGI_TRUST_PROXY, or one of proxy-addr's names (loopback, linklocal, uniquelocal). */
function isProxyAddress(item: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(item)) return true
  const [address, prefix, ...rest] = item.split('/')
  const family = isIP(address ?? '')
  if (!family || rest.length) return false
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128))
}

/** What KAGI_PUBLIC_URL (and `kagi ca set-public-url`) accepts, without its trailing slashes. */
export const publicUrlSchema = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL such as https://kagi.example.com' })
  // zod runs refinements after a failed check too: a value that is no URL at all is already reported.
  .refine((u) => !URL.canParse(u) || (!new URL(u).search && !new URL(u).hash), 'must not have a query or fragment')
  .transform((u) => u.replace(/\/+$/, ''))

const schema = z.object({
  PORT: z.preprocess(emptyAsAbsent, z.coerce.number().int().min(0).max(65535).default(3000)),
  HOST: z.preprocess(emptyAsAbsent, z.string().min(1).default('127.0.0.1')),
  KAGI_PUBLIC_URL: z.preprocess(emptyAsAbsent, publicUrlSchema.optional()),
  DATABASE_URL: z.preprocess(
    emptyAsAbsent,
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL (leave it unset for the embedded database)')
      .optional(),
  ),
  KAGI_DB_POOL_SIZE: z.preprocess(emptyAsAbsent, z.coerce.number().int().min(1).max(200).default(10)),
  // 800: one morning of server-side-key enrollments (README "Performance"); ~8 KiB of memory per key.
  KAGI_KEY_POOL_SIZE: z.preprocess(emptyAsAbsent, z.coerce.number().int().min(0).max(10_000).default(800)),
  // 1: one process. More, or "auto" (one per CPU), runs `kagi serve` as that many processes on one port (startup/cluster-primary.ts).
  KAGI_WORKERS: z.preprocess(emptyAsAbsent, z.union([z.literal('auto'), z.coerce.number().int().min(1).max(64)], { error: 'must be a number of processes from 1 to 64, or auto (one per CPU)' }).default(1)),
  KAGI_DATA_DIR: z.preprocess(emptyAsAbsent, z.string().min(1).default('./data')),
  KAGI_CA_PASSPHRASE: z.preprocess(emptyAsAbsent, z.string().optional()),
  KAGI_CA_PASSPHRASE_FILE: z.preprocess(emptyAsAbsent, z.string().optional()),
  KAGI_CA_KEY_TYPE: z.preprocess(emptyAsAbsent, z.enum(caKeyTypes, { error: `must be one of ${caKeyTypes.join(', ')}` }).default('ecdsa-p256')),
  KAGI_CA_NAME: z.preprocess(
    emptyAsAbsent,
    z
      .string()
      .max(48, 'must be at most 48 characters (it becomes part of the CA common names)')
      .regex(/^[\p{L}\p{N} .,'&()-]+$/u, 'may contain letters, digits, spaces and . , \' & ( ) -')
      .default('kagi'),
  ),
  KAGI_CRL_VALIDITY: duration('KAGI_CRL_VALIDITY', '24h', 5 * 60_000, 30 * 86_400_000),
  KAGI_OCSP_VALIDITY: duration('KAGI_OCSP_VALIDITY', '1h', 60_000, 7 * 86_400_000),
  KAGI_LOG_LEVEL: z.preprocess(emptyAsAbsent, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')),
  NODE_ENV: z.preprocess(emptyAsAbsent, z.string().optional()),
  KAGI_SAML_IDP_METADATA: z.preprocess(emptyAsAbsent, z.string().optional()),
  KAGI_SAML_ENTRY_POINT: z.preprocess(emptyAsAbsent, z.url({ protocol: /^https?$/, error: 'must be the IdP\'s SAML 2.0 single sign-on URL (http:// or https://)' }).optional()),
  KAGI_SAML_IDP_CERT: z.preprocess(emptyAsAbsent, z.string().optional()),
  KAGI_SAML_IDP_ISSUER: z.preprocess(emptyAsAbsent, z.string().optional()),
  KAGI_SAML_ADMIN_GROUPS: z.preprocess(emptyAsAbsent, z.string().default('')),
  KAGI_SAML_EMAIL_ATTRIBUTE: z.preprocess(emptyAsAbsent, z.string().default('User.email,email,mail')),
  KAGI_SAML_GROUPS_ATTRIBUTE: z.preprocess(emptyAsAbsent, z.string().default('memberOf,groups')),
  KAGI_SAML_NAME_ATTRIBUTE: z.preprocess(emptyAsAbsent, z.string().default('displayName,User.FirstName+User.LastName')),
  KAGI_SAML_IDP_INITIATED: z.preprocess(emptyAsAbsent, z.enum(['true', 'false'], { error: 'must be true or false' }).default('false')),
  KAGI_SESSION_SECRET: z.preprocess(emptyAsAbsent, z.string().min(32, 'must be at least 32 characters (random)').optional()),
  KAGI_SESSION_IDLE: duration('KAGI_SESSION_IDLE', '30m', 60_000, 7 * 86_400_000),
  KAGI_SESSION_MAX: duration('KAGI_SESSION_MAX', '12h', 5 * 60_000, 30 * 86_400_000),
  KAGI_GP_PORTAL: z.preprocess(
    emptyAsAbsent,
    z
      .string()
      .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be the GlobalProtect portal host name, such as vpn.example.com (no scheme or path)')
      .optional(),
  ),
  KAGI_DEVICE_HOSTNAME_SUFFIXES: z.preprocess(
    emptyAsAbsent,
    z
      .string()
      .refine((text) => list(text).every((suffix) => isHostname(suffix.replace(/^\./, ''))), 'must be a comma-separated list of DNS domains such as corp.example.com,example.net')
      .optional(),
  ),
  KAGI_TRUST_PROXY: z.preprocess(
    emptyAsAbsent,
    z
      .string()
      .refine(
        (text) => /^\d{1,2}$/.test(text.trim()) || (list(text).length > 0 && list(text).every(isProxyAddress)),
        'must be a number of proxy hops (e.g. 1) or a comma-separated list of proxy addresses or CIDRs (e.g. 10.0.0.0/8,127.0.0.1)',
      )
      .optional(),
  ),
  KAGI_GP_VPN_SUBTYPE: z.preprocess(emptyAsAbsent, z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be an iOS app bundle id').default('com.paloaltonetworks.GlobalProtect.vpnplugin')),
  KAGI_PAGE_MACHINE_CERTIFICATES: z.preprocess(emptyAsAbsent, z.enum(['true', 'false'], { error: 'must be true or false' }).default('true')),
  KAGI_OCSP_LAST_SEEN: z.preprocess(emptyAsAbsent, z.enum(['true', 'false'], { error: 'must be true or false' }).default('true')),
  KAGI_MAC_ALLOW_ALL_APPS_ACCESS: z.preprocess(emptyAsAbsent, z.enum(['true', 'false'], { error: 'must be true or false' }).default('false')),
  KAGI_SCEP_CHALLENGE_TTL: duration('KAGI_SCEP_CHALLENGE_TTL', '60m', 60_000, 30 * 86_400_000),
  KAGI_SCEP_ALLOW_DES: z.preprocess(emptyAsAbsent, z.enum(['true', 'false'], { error: 'must be true or false' }).default('false')),
  KAGI_SCEP_ALLOWED_DOMAINS: z.preprocess(
    emptyAsAbsent,
    z
      .string()
      .refine((text) => list(text).every((domain) => isHostname(domain.replace(/^\./, ''))), 'must be a comma-separated list of DNS domains such as example.com,corp.example.com')
      .optional(),
  ),
  KAGI_METRICS_TOKEN: z.preprocess(emptyAsAbsent, z.string().min(16, 'must be at least 16 characters (random), or unset to leave /metrics open').optional()),
  KAGI_CHECK_LISTEN: z.preprocess(
    emptyAsAbsent,
    z
      .string()
      .refine((text) => parseListen(text) !== undefined, 'must be host:port, such as 0.0.0.0:8443 or [::]:8443 (port 1-65535)')
      .optional(),
  ),
  KAGI_CHECK_HOSTNAME: z.preprocess(emptyAsAbsent, z.string().refine(isHostname, 'must be the DNS name employees open, such as check.kagi.example.com').optional()),
  // An HTTP field name (RFC 9110 §5.1), e.g. X-SSL-Client-Cert.
  KAGI_CHECK_CERT_HEADER: z.preprocess(emptyAsAbsent, z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name such as X-SSL-Client-Cert').optional()),
})

/** KAGI_CHECK_LISTEN's host:port (an IPv6 address in brackets), or undefined. */
function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text.trim())
  if (!m) return undefined
  const host = m[1] ?? m[2]!
  const port = Number(m[3])
  if (port < 1 || port > 65535 || (m[1] !== undefined && isIP(host) !== 6) || (m[2] !== undefined && !isIP(host) && !isHostname(host))) return undefined
  return { host, port }
}

/** The "check my device" page (README "Check my device"): its own HTTPS listener and/or a certificate header from a trusted proxy. */
export interface CheckConfig {
  /** KAGI_CHECK_LISTEN: where the HTTPS listener that asks for a client certificate listens. */
  listen?: { host: string; port: number }
  /** KAGI_CHECK_HOSTNAME: the name in the listener's certificate and in the page's address. */
  hostname?: string
  /** KAGI_CHECK_CERT_HEADER (lowercase): the header a trusted proxy (KAGI_TRUST_PROXY) puts the client certificate in. */
  certHeader?: string
  /** The page's address, linked from the install steps. */
  url: string
}

/** kagi's configuration, parsed once from the environment and frozen. */
export interface Config {
  port: number
  host: string
  /**
   * Base URL put into every certificate (CRL DP, AIA), without a trailing slash.
   * Once the CA exists, the one stored with it (startup/public-url.ts).
   */
  publicUrl: string
  /** KAGI_PUBLIC_URL was set: a stored public URL that differs is an error, not silently taken. */
  publicUrlSet: boolean
  databaseUrl?: string
  dbPoolSize: number
  /** RSA-2048 keys generated ahead in idle time for server-side-key enrollments (KAGI_KEY_POOL_SIZE, default 800; 0 = off). */
  keyPoolSize: number
  /** `kagi serve` processes sharing the port (KAGI_WORKERS; "auto" resolved to the CPUs); more than 1 only with PostgreSQL. */
  workers: number
  dataDir: string
  caPassphrase?: string
  caPassphraseFile?: string
  caKeyType: (typeof caKeyTypes)[number]
  caName: string
  /** CRL lifetime (thisUpdate → nextUpdate) in ms; CRLs are re-signed at half of it. Default 24 h. */
  crlValidityMs: number
  /** OCSP response lifetime (nextUpdate) in ms; cached answers are re-signed at half of it. Default 1 h. */
  ocspValidityMs: number
  /** Count OCSP requests per certificate for "last seen by the VPN" (KAGI_OCSP_LAST_SEEN, default true). */
  ocspLastSeen: boolean
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  production: boolean
  saml: SamlConfig
  /** Secret for the session cookie; derived from the CA passphrase when unset. */
  sessionSecret?: string
  /** Session ends after this long without a request (default 30 min). */
  sessionIdleMs: number
  /** Session ends this long after sign-in, whatever the activity (default 12 h). */
  sessionMaxMs: number
  /** GlobalProtect portal address put into bundles (KAGI_GP_PORTAL). */
  gpPortal?: string
  /** iOS VPNSubType: the GlobalProtect app's VPN plug-in bundle id. */
  gpVpnSubType: string
  /**
   * Fastify's trustProxy (KAGI_TRUST_PROXY): a hop count, or the addresses
   * of the proxies whose X-Forwarded-For is believed; undefined = none, the
   * client address is the socket's.
   */
  trustProxy?: number | string[]
  /** Domains device host names must be in (KAGI_DEVICE_HOSTNAME_SUFFIXES, lowercase, no leading dot); empty = any. */
  deviceHostnameSuffixes: string[]
  /** The page offers machine certificates on macOS and Windows (KAGI_PAGE_MACHINE_CERTIFICATES, default true); MDMs, the API and the CLI are unaffected. */
  pageMachineCertificates: boolean
  /**
   * MDM-delivered macOS profiles set AllowAllAppsAccess on the identity (KAGI_MAC_ALLOW_ALL_APPS_ACCESS,
   * default false): every app may then use the private key without the keychain prompt, not only GlobalProtect.
   */
  macAllowAllAppsAccess: boolean
  scep: ScepConfig
  /** Bearer token GET /metrics requires (KAGI_METRICS_TOKEN); undefined = /metrics is open. */
  metricsToken?: string
  /** The "check my device" page; undefined = off (neither KAGI_CHECK_LISTEN nor KAGI_CHECK_CERT_HEADER). */
  check?: CheckConfig
}

/** SCEP settings (RFC 8894; src/use-cases/scep-operation.ts). */
export interface ScepConfig {
  /** Lifetime of a one-time challenge (KAGI_SCEP_CHALLENGE_TTL, default 60 min, as NDES). */
  challengeTtlMs: number
  /** Accept and answer single DES (KAGI_SCEP_ALLOW_DES; RFC 8894 §3.5.2 says it MUST NOT be offered). */
  allowDes: boolean
  /**
   * Domains an NDES-style challenge may enroll names in (KAGI_SCEP_ALLOWED_DOMAINS,
   * lowercase, no leading dot): the email domain or the host name's domain. Empty = NDES challenges enroll nobody.
   */
  allowedDomains: string[]
}

/** SAML sign-in settings (OneLogin or any SAML 2.0 IdP). */
export interface SamlConfig {
  /** IdP metadata XML: a file path or an https URL (http only outside production). */
  idpMetadata?: string
  /** Or: the IdP's single sign-on URL and signing certificate (PEM text, base64 or a file path). */
  entryPoint?: string
  idpCert?: string
  /** Expected Issuer of responses (from the metadata's entityID when not set). */
  idpIssuer?: string
  adminGroups: string[]
  emailAttributes: string[]
  groupsAttributes: string[]
  /** Display-name candidates; "A+B" joins two attributes with a space. */
  nameAttributes: string[]
  /** Accept responses without a matching AuthnRequest (off by default: they enable login CSRF and replay). */
  idpInitiated: boolean
}

/** True when SAML sign-in is configured. */
export const samlConfigured = (config: Pick<Config, 'saml'>): boolean => Boolean(config.saml.idpMetadata || (config.saml.entryPoint && config.saml.idpCert))

/** True for localhost and loopback addresses (127.0.0.0/8, ::1), bracketed IPv6 included (a URL's hostname). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1')
  return bare === 'localhost' || (isIP(bare) !== 0 && (bare === '::1' || bare.startsWith('127.')))
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
  if (Boolean(e.KAGI_SAML_ENTRY_POINT) !== Boolean(e.KAGI_SAML_IDP_CERT) && !e.KAGI_SAML_IDP_METADATA) {
    throw new ConfigError('invalid configuration:\n  KAGI_SAML_ENTRY_POINT and KAGI_SAML_IDP_CERT go together (or set KAGI_SAML_IDP_METADATA instead)')
  }
  // Over http, anyone on the path can swap the IdP's signing certificate in the metadata and sign in as anyone.
  if (e.NODE_ENV === 'production' && e.KAGI_SAML_IDP_METADATA && /^http:\/\//i.test(e.KAGI_SAML_IDP_METADATA)) {
    throw new ConfigError('invalid configuration:\n  KAGI_SAML_IDP_METADATA: must be a file path or an https:// URL with NODE_ENV=production (over http the IdP certificate can be replaced in transit)')
  }
  if (e.KAGI_CHECK_LISTEN && !e.KAGI_CHECK_HOSTNAME) {
    throw new ConfigError('invalid configuration:\n  KAGI_CHECK_LISTEN needs KAGI_CHECK_HOSTNAME, the DNS name its certificate is issued for')
  }
  // Anyone could otherwise claim any certificate by sending the header.
  if (e.KAGI_CHECK_CERT_HEADER && !e.KAGI_TRUST_PROXY) {
    throw new ConfigError('invalid configuration:\n  KAGI_CHECK_CERT_HEADER is read only from trusted proxies: set KAGI_TRUST_PROXY to their addresses')
  }
  // "auto" is one process with the embedded database, which lives in one process; a count above 1 is refused there.
  const workers = e.KAGI_WORKERS === 'auto' ? (e.DATABASE_URL ? availableParallelism() : 1) : e.KAGI_WORKERS
  if (workers > 1 && !e.DATABASE_URL) {
    throw new ConfigError('invalid configuration:\n  KAGI_WORKERS: more than one process needs PostgreSQL (DATABASE_URL); the embedded database lives in one process')
  }
  const trustProxy = e.KAGI_TRUST_PROXY === undefined ? undefined : /^\d+$/.test(e.KAGI_TRUST_PROXY.trim()) ? Number(e.KAGI_TRUST_PROXY) : list(e.KAGI_TRUST_PROXY)
  const publicUrl = e.KAGI_PUBLIC_URL ?? `http://${hostForUrl(e.HOST)}:${e.PORT}`
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    publicUrlSet: e.KAGI_PUBLIC_URL !== undefined,
    databaseUrl: e.DATABASE_URL,
    dbPoolSize: e.KAGI_DB_POOL_SIZE,
    keyPoolSize: e.KAGI_KEY_POOL_SIZE,
    workers,
    dataDir: e.KAGI_DATA_DIR,
    caPassphrase: e.KAGI_CA_PASSPHRASE,
    caPassphraseFile: e.KAGI_CA_PASSPHRASE_FILE,
    caKeyType: e.KAGI_CA_KEY_TYPE,
    caName: e.KAGI_CA_NAME,
    crlValidityMs: e.KAGI_CRL_VALIDITY,
    ocspValidityMs: e.KAGI_OCSP_VALIDITY,
    ocspLastSeen: e.KAGI_OCSP_LAST_SEEN === 'true',
    logLevel: e.KAGI_LOG_LEVEL,
    production: e.NODE_ENV === 'production',
    saml: Object.freeze({
      idpMetadata: e.KAGI_SAML_IDP_METADATA,
      entryPoint: e.KAGI_SAML_ENTRY_POINT,
      idpCert: e.KAGI_SAML_IDP_CERT,
      idpIssuer: e.KAGI_SAML_IDP_ISSUER,
      // A DN's own commas do not separate groups: the pieces are put back together (auth/admin-groups.ts).
      adminGroups: rejoinDns(list(e.KAGI_SAML_ADMIN_GROUPS)),
      emailAttributes: list(e.KAGI_SAML_EMAIL_ATTRIBUTE),
      groupsAttributes: list(e.KAGI_SAML_GROUPS_ATTRIBUTE),
      nameAttributes: list(e.KAGI_SAML_NAME_ATTRIBUTE),
      idpInitiated: e.KAGI_SAML_IDP_INITIATED === 'true',
    }),
    sessionSecret: e.KAGI_SESSION_SECRET,
    sessionIdleMs: e.KAGI_SESSION_IDLE,
    sessionMaxMs: e.KAGI_SESSION_MAX,
    gpPortal: e.KAGI_GP_PORTAL,
    deviceHostnameSuffixes: list(e.KAGI_DEVICE_HOSTNAME_SUFFIXES ?? '').map((suffix) => suffix.replace(/^\./, '').toLowerCase()),
    gpVpnSubType: e.KAGI_GP_VPN_SUBTYPE,
    trustProxy,
    pageMachineCertificates: e.KAGI_PAGE_MACHINE_CERTIFICATES === 'true',
    macAllowAllAppsAccess: e.KAGI_MAC_ALLOW_ALL_APPS_ACCESS === 'true',
    scep: {
      challengeTtlMs: e.KAGI_SCEP_CHALLENGE_TTL,
      allowDes: e.KAGI_SCEP_ALLOW_DES === 'true',
      allowedDomains: list(e.KAGI_SCEP_ALLOWED_DOMAINS ?? '').map((domain) => domain.replace(/^\./, '').toLowerCase()),
    },
    metricsToken: e.KAGI_METRICS_TOKEN,
    check: checkConfig(e.KAGI_CHECK_LISTEN, e.KAGI_CHECK_HOSTNAME, e.KAGI_CHECK_CERT_HEADER, publicUrl),
  })
}

function checkConfig(listenText: string | undefined, hostname: string | undefined, header: string | undefined, publicUrl: string): CheckConfig | undefined {
  if (!listenText && !header) return undefined
  const listen = listenText ? parseListen(listenText) : undefined
  const name = hostname?.toLowerCase()
  const url = listen ? `https://${name}${listen.port === 443 ? '' : `:${listen.port}`}/check` : name ? `https://${name}/check` : `${publicUrl}/check`
  return { listen, hostname: name, certHeader: header?.toLowerCase(), url }
}
