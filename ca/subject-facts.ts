import type { LeafProfile, VerifiedField } from '../profiles/index.js'
import { CaError } from './errors.js'

/** Facts kagi vouches for (its user record and device inventory), never the CSR. */
export interface VerifiedFacts {
  email?: string
  hostname?: string
  deviceId?: string
}

// Dot-atom local part and a DNS domain: rfc822Name is an IA5String (RFC 5280 §4.2.1.6), so ASCII only.
const EMAIL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/
// RFC 1123 host name: labels of letters, digits and hyphens, not starting or ending with a hyphen.
const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

const checks: Record<VerifiedField, { pattern: RegExp; what: string }> = {
  email: { pattern: EMAIL, what: 'an ASCII email address such as alice@example.com' },
  hostname: { pattern: HOSTNAME, what: 'a DNS host name such as alice-mbp.corp.example.com (letters, digits, hyphens, dots)' },
  deviceId: { pattern: DEVICE_ID, what: 'a device id' },
}

/** Returns true when `value` is a valid email for a certificate. */
export const isCertificateEmail = (value: string): boolean => value.length <= 254 && EMAIL.test(value)
/** Returns true when `value` is a valid RFC 1123 host name. */
export const isHostname = (value: string): boolean => HOSTNAME.test(value)

/** Checks that the facts a profile needs are present and well formed; says which is not. */
export function requireFacts(profile: LeafProfile, facts: VerifiedFacts): void {
  for (const field of profile.requires) {
    const value = facts[field]
    if (value === undefined || value === '') {
      throw new CaError('profile_violation', `the ${profile.id} profile requires ${field === 'deviceId' ? 'a device' : `a ${field}`}`)
    }
    const check = checks[field]
    if (!check.pattern.test(value) || (field === 'email' && value.length > 254)) {
      throw new CaError('profile_violation', `the ${field} "${value.slice(0, 80)}" is not ${check.what}`)
    }
  }
}
