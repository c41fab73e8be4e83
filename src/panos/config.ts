import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { ConfigError } from '../config.js'
import { existingNameProblem, newNameProblem } from './names.js'

/** How the certificate profile derives the user name (reference §1.7, §5). */
export const usernameFields = ['subject-alt:email', 'subject-alt:principal-name', 'subject:common-name'] as const
export type UsernameField = (typeof usernameFields)[number]

/** Credentials: an API key, or a user and password exchanged with `type=keygen`. */
export type PanosAuth =
  /** `user` (optional) names the API administrator, for the partial commit. */
  | { apiKey: string; user?: string }
  | { user: string; password: string }

/** Where and how `kagi panos push` talks to the firewall, and what it writes. */
export interface PanosConfig {
  /** Firewall (or Panorama) base URL, without a trailing slash or `/api`, e.g. `https://fw.example.com`. */
  url: string
  auth: PanosAuth
  /** Name of the certificate profile kagi manages under /config/shared. Default `kagi-devices`. */
  certProfile: string
  /** Existing GlobalProtect portal to attach the profile to; unset leaves portals alone. */
  portal?: string
  /** Existing GlobalProtect gateway to attach the profile to; unset leaves gateways alone. */
  gateway?: string
  /** Virtual system holding the portal and gateway. Default `vsys1`. */
  vsys: string
  /** Certificate field that becomes the user name. Default `subject-alt:email`. */
  usernameField: UsernameField
  /** PEM CA certificate(s) that verify the firewall's TLS certificate (replacing the system roots). */
  caPem?: string
  /** The SCEP delivery of `kagi panos push --scep`; undefined without `--scep`. */
  scep?: PanosScepConfig
  /** Per-request deadline. Default 30 s. */
  requestTimeoutMs: number
  /** How long to wait for the commit job. Default 10 minutes. */
  commitTimeoutMs: number
  /** Interval between job polls. Default 2 s (pango warns that faster polling slows PAN-OS down). */
  pollIntervalMs: number
}

/** What `--scep` needs: the portal's agent configuration to deliver through, and the token the firewall fetches challenges with. */
export interface PanosScepConfig {
  /** kagi mdm (or admin) API token, the HTTP Basic password of the NDES challenge page. A secret: never printed. */
  token: string
  /** Agent configuration of the portal (client-config/configs/entry) that delivers the certificate. */
  portalConfig: string
  /** HTTP Basic user name sent with the token (kagi ignores it). Default `kagi`. */
  username: string
}

/** Timing defaults (not environment variables: the issue fixes the variable names). */
export const panosTimingDefaults = { requestTimeoutMs: 30_000, commitTimeoutMs: 600_000, pollIntervalMs: 2_000 } as const

const optionalText = z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.string().optional())

function name(check: (n: string) => string | undefined) {
  return optionalText.superRefine((value, ctx) => {
    const problem = value === undefined ? undefined : check(value)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  })
}

const schema = z.object({
  KAGI_PANOS_URL: optionalText.pipe(
    z
      .url({ protocol: /^https?$/, error: 'must be the firewall\'s https:// URL, e.g. https://fw.example.com' })
      .optional()
      .refine((u) => u === undefined || (!new URL(u).search && !new URL(u).hash), 'must not have a query or fragment')
      .refine((u) => u === undefined || (!new URL(u).username && !new URL(u).password), 'must not contain credentials; use KAGI_PANOS_API_KEY or KAGI_PANOS_USER and KAGI_PANOS_PASSWORD'),
  ),
  KAGI_PANOS_API_KEY: optionalText,
  KAGI_PANOS_USER: optionalText,
  KAGI_PANOS_PASSWORD: z.string().optional(),
  KAGI_PANOS_CERT_PROFILE: name(newNameProblem),
  KAGI_PANOS_PORTAL: name(existingNameProblem),
  KAGI_PANOS_GATEWAY: name(existingNameProblem),
  KAGI_PANOS_VSYS: optionalText.pipe(z.string().regex(/^vsys[0-9]{1,3}$/, 'must be a virtual system id such as vsys1').optional()),
  KAGI_PANOS_USERNAME_FIELD: optionalText.pipe(z.enum(usernameFields, { error: `must be one of ${usernameFields.join(', ')}` }).optional()),
  KAGI_PANOS_CA_FILE: optionalText,
  // The message states the expected format, never the value (a secret).
  KAGI_PANOS_SCEP_TOKEN: optionalText.pipe(z.string().regex(/^kagi_[A-Za-z0-9_-]{43}$/, 'must be a kagi API token (kagi_…, from `kagi token create --role mdm`)').optional()),
  KAGI_PANOS_PORTAL_CONFIG: name(existingNameProblem),
})

function fail(lines: string[]): never {
  throw new ConfigError(`invalid configuration:\n${lines.map((l) => `  ${l}`).join('\n')}`)
}

/** Problems of the variables `--scep` needs (each is required: a portal has several agent configurations, and kagi must not guess). */
function scepProblems(e: z.infer<typeof schema>): string[] {
  const problems: string[] = []
  if (!e.KAGI_PANOS_PORTAL) problems.push('KAGI_PANOS_PORTAL: required with --scep, the GlobalProtect portal that delivers the SCEP certificate')
  if (!e.KAGI_PANOS_PORTAL_CONFIG) problems.push('KAGI_PANOS_PORTAL_CONFIG: required with --scep, the name of the portal\'s agent configuration (Agent tab) that delivers the certificate')
  if (!e.KAGI_PANOS_SCEP_TOKEN) problems.push('KAGI_PANOS_SCEP_TOKEN: required with --scep, an mdm token (`kagi token create --role mdm --name panos-scep`) the firewall fetches SCEP challenges with')
  return problems
}

/**
 * Parses the KAGI_PANOS_* variables (with `scep`, also those `--scep` needs).
 * Returns the frozen configuration and warnings to print (an http:// URL).
 * Throws ConfigError naming each bad variable; secrets never appear in a
 * message.
 */
export function loadPanosConfig(env: NodeJS.ProcessEnv = process.env, options: { scep?: boolean } = {}): { config: Readonly<PanosConfig>; warnings: string[] } {
  const parsed = schema.safeParse(env)
  if (!parsed.success) fail(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`))
  const e = parsed.data
  const problems: string[] = []
  if (!e.KAGI_PANOS_URL) problems.push('KAGI_PANOS_URL: required, the firewall\'s base URL, e.g. https://fw.example.com')
  const password = e.KAGI_PANOS_PASSWORD || undefined
  if (e.KAGI_PANOS_API_KEY && password) problems.push('KAGI_PANOS_API_KEY and KAGI_PANOS_PASSWORD: set one way to authenticate, not both')
  if (!e.KAGI_PANOS_API_KEY && !(e.KAGI_PANOS_USER && password)) {
    problems.push('KAGI_PANOS_API_KEY: required (or KAGI_PANOS_USER and KAGI_PANOS_PASSWORD, exchanged for a key)')
  }
  let caPem: string | undefined
  if (e.KAGI_PANOS_CA_FILE) {
    try {
      caPem = readFileSync(e.KAGI_PANOS_CA_FILE, 'utf8')
      if (!caPem.includes('-----BEGIN CERTIFICATE-----')) problems.push(`KAGI_PANOS_CA_FILE: ${e.KAGI_PANOS_CA_FILE} holds no PEM certificate`)
    } catch (error) {
      problems.push(`KAGI_PANOS_CA_FILE: cannot read ${e.KAGI_PANOS_CA_FILE}: ${(error as NodeJS.ErrnoException).code ?? error}`)
    }
  }
  if (options.scep) problems.push(...scepProblems(e))
  if (problems.length) fail(problems)
  const url = new URL(e.KAGI_PANOS_URL!)
  const warnings: string[] = []
  if (url.protocol === 'http:') {
    warnings.push(`KAGI_PANOS_URL is http://: the API key and configuration travel unencrypted (acceptable for a lab or a test double only)`)
    if (caPem) warnings.push('KAGI_PANOS_CA_FILE is ignored for an http:// URL')
  }
  const auth: PanosAuth = e.KAGI_PANOS_API_KEY ? { apiKey: e.KAGI_PANOS_API_KEY, user: e.KAGI_PANOS_USER } : { user: e.KAGI_PANOS_USER!, password: password! }
  const config: PanosConfig = {
    url: url.toString().replace(/\/+$/, '').replace(/\/api$/, ''),
    auth,
    certProfile: e.KAGI_PANOS_CERT_PROFILE ?? 'kagi-devices',
    portal: e.KAGI_PANOS_PORTAL,
    gateway: e.KAGI_PANOS_GATEWAY,
    vsys: e.KAGI_PANOS_VSYS ?? 'vsys1',
    usernameField: e.KAGI_PANOS_USERNAME_FIELD ?? 'subject-alt:email',
    caPem,
    scep: options.scep ? Object.freeze({ token: e.KAGI_PANOS_SCEP_TOKEN!, portalConfig: e.KAGI_PANOS_PORTAL_CONFIG!, username: 'kagi' }) : undefined,
    ...panosTimingDefaults,
  }
  return { config: Object.freeze(config), warnings }
}
