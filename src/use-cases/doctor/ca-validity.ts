import { serialToHex, type CertificateInfo } from '../../../ca/index.js'
import { fail, ok, warn, type CheckResult } from './types.js'

/**
 * A CA certificate this close to its notAfter is warned about: replacing a
 * CA means new trust anchors on every device and firewall, which takes
 * weeks to roll out (and kagi's leaf certificates cannot outlive their issuer).
 */
export const CA_EXPIRY_WARN_DAYS = 90

const DAY_MS = 86_400_000
const day = (d: Date): string => d.toISOString().slice(0, 10)

/** One CA certificate's validity period against `now`. */
export function checkCaValidity(role: 'root' | 'issuing', cert: CertificateInfo, now: Date): CheckResult {
  const name = `CA: ${role}`
  const serial = serialToHex(cert.serial)
  const replace = role === 'root' ? 'create a new hierarchy (`kagi ca init --force`) and distribute the new root' : 'import a new issuing CA (`kagi ca import`) or create a new hierarchy (`kagi ca init --force`)'
  if (now < cert.notBefore) {
    return fail(name, `the ${role} CA certificate (serial ${serial}) is not valid before ${cert.notBefore.toISOString()}`, 'check this host\'s clock; if it is right, the certificate was made with a wrong one: ' + replace)
  }
  if (now > cert.notAfter) return fail(name, `the ${role} CA certificate (serial ${serial}) expired on ${cert.notAfter.toISOString()}`, replace)
  const days = Math.floor((cert.notAfter.getTime() - now.getTime()) / DAY_MS)
  if (days < CA_EXPIRY_WARN_DAYS) return warn(name, `the ${role} CA certificate (serial ${serial}) expires in ${days} days (${day(cert.notAfter)})`, `plan its replacement now: ${replace}`)
  return ok(name, `valid until ${day(cert.notAfter)} (${days} days; serial ${serial})`)
}
