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
// RFC 1123 §2.1 host name label: letters, digits and hyphens, 1–63 long, not starting or ending with a hyphen.
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

const checks: Record<VerifiedField, { valid: (value: string) => boolean; what: string }> = {
  email: { valid: (value) => isCertificateEmail(value), what: 'an ASCII email address such as alice@example.com' },
  hostname: { valid: (value) => isHostname(value), what: 'a DNS host name such as alice-mbp.corp.example.com (letters, digits, hyphens, dots)' },
  deviceId: { valid: (value) => DEVICE_ID.test(value), what: 'a device id' },
}

/** Returns true when `value` is a valid email for a certificate. */
export const isCertificateEmail = (value: string): boolean => value.length <= 254 && EMAIL.test(value)
/**
 * Returns true when `value` is an RFC 1123 host name whose last label is not
 * all digits (RFC 1123 §2.1, RFC 3696 §2), so that no IPv4 address such as
 * 10.1.2.3 passes as a name: an IP address never goes in a dNSName (RFC 5280
 * §4.2.1.6). IPv6 addresses and wildcards fail the label rule.
 */
export function isHostname(value: string): boolean {
  if (value.length < 1 || value.length > 253) return false
  const labels = value.split('.')
  return labels.every((label) => LABEL.test(label)) && !/^[0-9]+$/.test(labels[labels.length - 1]!)
}

/** Checks that the facts a profile needs are present and well formed; says which is not. */
export function requireFacts(profile: LeafProfile, facts: VerifiedFacts): void {
  for (const field of profile.requires) {
    const value = facts[field]
    if (value === undefined || value === '') {
      throw new CaError('profile_violation', `the ${profile.id} profile requires ${field === 'deviceId' ? 'a device' : `a ${field}`}`)
    }
    const check = checks[field]
    if (!check.valid(value)) {
      throw new CaError('profile_violation', `the ${field} "${value.slice(0, 80)}" is not ${check.what}`)
    }
  }
}
