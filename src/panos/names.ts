import { createHash, X509Certificate } from 'node:crypto'

/**
 * PAN-OS refuses entry names over 63 characters with response code 12
 * ("… can be at most 63 characters, but current length: 64", reference §1.3).
 */
export const MAX_NAME_LENGTH = 63

/**
 * Why `name` cannot be used as the name of an object kagi creates, or
 * undefined when it can: 1–63 letters, digits, spaces, `.`, `_` or `-`,
 * starting with a letter or digit (the characters PAN-OS accepts in object
 * names everywhere; a quote would also break the xpath).
 */
export function newNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty'
  if (name.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters (PAN-OS limit), but "${name}" has ${name.length}`
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/.test(name)) return `may contain only letters, digits, spaces, ".", "_" and "-", starting with a letter or digit ("${name}")`
  return undefined
}

/**
 * Why `name` cannot be used to look up an existing object (portal, gateway),
 * or undefined: at most 63 characters, no quotes (kagi quotes names in xpaths
 * with '…'), no control characters.
 */
export function existingNameProblem(name: string): string | undefined {
  if (name.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters (PAN-OS limit), but has ${name.length}`
  if (/['"\p{Cc}]/u.test(name)) return 'must not contain quotes or control characters'
  return undefined
}

function slug(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
}

/**
 * The name under which kagi imports a CA certificate: the slug of its common
 * name and the first 8 hex digits of its SHA-256 fingerprint, e.g.
 * `kagi-root-ca-1f2e3d4c`. Stable for one certificate, different for a
 * replaced CA (so a rotation adds a certificate instead of overwriting the
 * one older client certificates chain to), and never over 63 characters.
 */
export function certificateName(pem: string): string {
  const cert = new X509Certificate(pem)
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? (cert.ca ? 'ca' : 'certificate')
  const fingerprint = createHash('sha256').update(cert.raw).digest('hex').slice(0, 8)
  const base = slug(cn).slice(0, MAX_NAME_LENGTH - fingerprint.length - 1).replace(/-+$/, '') || 'ca'
  return `${base}-${fingerprint}`
}

/**
 * The name of the SCEP profile `kagi panos push --scep` manages: the
 * certificate profile's name with `-scep` (`kagi-devices-scep`), so two kagi
 * installations that push to one firewall under different
 * KAGI_PANOS_CERT_PROFILE names keep apart; cut to 63 characters.
 */
export function scepProfileName(certProfile: string): string {
  const suffix = '-scep'
  return `${certProfile.slice(0, MAX_NAME_LENGTH - suffix.length).replace(/[ .-]+$/, '')}${suffix}`
}
