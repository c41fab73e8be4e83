import { sql } from 'kysely'
import type { CsrClaims } from '../../ca/scep/index.js'
import { ScepFailure } from '../../ca/scep/index.js'
import { isHostname } from '../../ca/index.js'
import type { KagiServices } from '../startup/services.js'

/** Whom a SCEP enrollment is for, as the enrollment pipeline takes it. */
export interface ScepIdentity {
  email: string
  profile: 'user' | 'device'
  device?: { id: string }
}

const inDomains = (name: string, domains: readonly string[]): boolean => domains.some((d) => name === d || name.endsWith(`.${d}`))

/**
 * The user or device an NDES-style challenge enrolls, from what the CSR
 * claims (csrClaims): a host name (dNSName, or a CN that is one) of a device
 * kagi knows enrolls that device's machine certificate for its owner; an
 * email (rfc822Name, emailAddress, UPN, or a CN that is one) of a user kagi
 * knows enrolls that user's certificate. A bare user name (the GlobalProtect
 * portal's `CN=$USERNAME`) is tried in each allowed domain and must match
 * exactly one user. Only names inside KAGI_SCEP_ALLOWED_DOMAINS count, and
 * only people and devices already in kagi: the challenge proves an MDM asked,
 * not who the device belongs to, so it cannot create anyone. The claims only
 * find the record; the certificate is built from the record.
 */
export async function identityFromClaims(services: Pick<KagiServices, 'db' | 'config'>, claims: CsrClaims, wanted?: 'user' | 'device'): Promise<ScepIdentity> {
  const domains = services.config.scep.allowedDomains
  if (domains.length === 0) throw new ScepFailure('badRequest', 'NDES challenges enroll nobody until KAGI_SCEP_ALLOWED_DOMAINS is set')
  const cn = claims.commonName?.trim().toLowerCase()
  if (wanted !== 'user') {
    const hostnames = [...claims.dnsNames.map((n) => n.toLowerCase()), ...(cn && isHostname(cn) && cn.includes('.') ? [cn] : [])].filter((n) => inDomains(n, domains))
    for (const hostname of hostnames) {
      const device = await services.db
        .selectFrom('device')
        .innerJoin('app_user', 'app_user.id', 'device.user_id')
        .select(['device.id', 'app_user.email'])
        .where(sql<boolean>`lower(device.hostname) = ${hostname}`)
        .orderBy('device.created_at', 'desc')
        .limit(2)
        .execute()
      if (device.length === 1) return { email: device[0]!.email, profile: 'device', device: { id: device[0]!.id } }
    }
  }
  if (wanted !== 'device') {
    const addresses = [...claims.emails, ...claims.principalNames, ...(cn?.includes('@') ? [cn] : [])].map((e) => e.toLowerCase())
    const bare = cn && /^[a-z0-9._-]{1,64}$/.test(cn) ? domains.map((d) => `${cn}@${d}`) : []
    const known = async (emails: string[]) => {
      const allowed = emails.filter((e) => inDomains(e.slice(e.lastIndexOf('@') + 1), domains))
      if (allowed.length === 0) return []
      return (await services.db.selectFrom('app_user').select('email').where('email', 'in', allowed).execute()).map((r) => r.email)
    }
    const named = await known(addresses)
    if (named.length === 1) return { email: named[0]!, profile: 'user' }
    if (named.length === 0) {
      const guessed = await known(bare)
      if (guessed.length === 1) return { email: guessed[0]!, profile: 'user' }
    }
  }
  throw new ScepFailure('badRequest', 'the CSR names no single user or device that kagi knows in KAGI_SCEP_ALLOWED_DOMAINS')
}
