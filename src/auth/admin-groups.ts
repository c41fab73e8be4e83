/**
 * KAGI_SAML_ADMIN_GROUPS matching. A group value from the IdP is a role name
 * ("VPN Admins") or, from a directory, a distinguished name
 * ("CN=VPN Admins,OU=Groups,DC=example,DC=com"). A configured entry matches:
 *
 * - written as a DN: only a group value that is the same DN (RFC 4514 string,
 *   compared case-insensitively, spaces around separators ignored), so
 *   "CN=VPN Admins,OU=Contractors,DC=evil,DC=com" is not
 *   "CN=VPN Admins,OU=Groups,DC=example,DC=com";
 * - written as a bare name: a group value equal to it, or a DN whose first
 *   RDN is CN=<that name>, in any OU of any directory the IdP passes through.
 *   Use the full DN when groups come from a directory others can add to.
 */

/** One configured entry, parsed once. */
type Pattern = { dn: string } | { name: string }

/** Matches group values against configured admin groups. */
export interface AdminGroupMatcher {
  /** True when any of `groups` is a configured admin group. */
  matches(groups: readonly string[]): boolean
}

const RDN_START = /^\s*([A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)\s*=/

/** Builds the matcher for KAGI_SAML_ADMIN_GROUPS as config.ts hands it over (whole DNs, see {@link rejoinDns}). */
export function adminGroupMatcher(configured: readonly string[]): AdminGroupMatcher {
  const patterns: Pattern[] = configured.map((entry) => {
    const dn = RDN_START.test(entry) ? normalDn(entry) : undefined
    return dn ? { dn } : { name: normalValue(entry) }
  })
  const dnPatterns = new Set(patterns.flatMap((p) => ('dn' in p ? [p.dn] : [])))
  const names = new Set(patterns.flatMap((p) => ('name' in p ? [p.name] : [])))
  return {
    matches: (groups) =>
      groups.some((group) => {
        if (names.has(normalValue(group))) return true
        const rdns = RDN_START.test(group) ? parseDn(group) : undefined
        if (!rdns) return false
        if (dnPatterns.has(rdns.join(','))) return true
        const first = rdns[0]!
        return first.startsWith('cn=') && !first.includes('+') && names.has(first.slice(3))
      }),
  }
}

/**
 * KAGI_SAML_ADMIN_GROUPS is comma-separated, and a comma also cuts a DN into its
 * RDNs ("CN=VPN Admins", "OU=Groups", "DC=example", "DC=com"). Left apart, the
 * configured DN would match nobody and its pieces would match group values
 * such as "DC=com". This puts a DN back together: an RDN-shaped piece
 * continues the DN before it, except that a CN= after a non-CN RDN starts a
 * new DN (DNs run from CN through OU to DC; Active Directory's containers are
 * CN=Users, CN=Builtin), and a piece after an escaped comma ("\,") always
 * continues. Entries that are already whole pass through unchanged.
 */
export function rejoinDns(items: readonly string[]): string[] {
  const out: string[] = []
  for (const item of items) {
    const previous = out[out.length - 1]
    const escapedComma = previous !== undefined && /(^|[^\\])(\\\\)*\\$/.test(previous)
    const type = RDN_START.exec(item)?.[1]?.toLowerCase()
    const lastType = previous !== undefined && RDN_START.test(previous) ? lastRdnType(previous) : undefined
    if (escapedComma || (type && lastType && !(type === 'cn' && lastType !== 'cn'))) out[out.length - 1] = `${previous},${item}`
    else out.push(item)
  }
  return out
}

function lastRdnType(dn: string): string | undefined {
  const rdns = splitUnescaped(dn, ',')
  return RDN_START.exec(rdns[rdns.length - 1] ?? '')?.[1]?.toLowerCase()
}

/** The DN in one comparable form ("cn=vpn admins,ou=groups,dc=example,dc=com"), or undefined when it is not a DN. */
export function normalDn(text: string): string | undefined {
  return parseDn(text)?.join(',')
}

/**
 * RFC 4514 §3 string → RDNs, each "type=value" (multi-valued RDNs joined by
 * "+" in sorted order), types and values lowercased, escapes (\, \+ \2C …)
 * decoded. Undefined when any RDN is not type=value.
 */
function parseDn(text: string): string[] | undefined {
  const rdns: string[] = []
  for (const rdn of splitUnescaped(text, ',')) {
    const avas: string[] = []
    for (const ava of splitUnescaped(rdn, '+')) {
      const eq = ava.indexOf('=')
      const type = ava.slice(0, eq).trim().toLowerCase()
      if (eq < 0 || !/^([a-z][a-z0-9-]*|\d+(\.\d+)+)$/.test(type)) return undefined
      const value = unescapeValue(ava.slice(eq + 1))
      if (value === undefined) return undefined
      avas.push(`${type}=${normalValue(value)}`)
    }
    rdns.push(avas.sort().join('+'))
  }
  return rdns.length ? rdns : undefined
}

/** Splits at `separator` where it is not escaped by a backslash. */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = []
  let start = 0
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++
    else if (text[i] === separator) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  return parts
}

/** Decodes RFC 4514 §2.4 escapes (a backslash before a special character, or two hex digits of a UTF-8 byte). */
function unescapeValue(raw: string): string | undefined {
  const bytes: number[] = []
  const text = raw.trim()
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '\\') {
      bytes.push(...Buffer.from(text[i]!, 'utf8'))
      continue
    }
    const hex = text.slice(i + 1, i + 3)
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16))
      i += 2
    } else if (i + 1 < text.length) bytes.push(...Buffer.from(text[++i]!, 'utf8'))
    else return undefined
  }
  return Buffer.from(bytes).toString('utf8')
}

/**
 * Case-insensitive, and tolerant of spacing: runs of white space are one
 * space, and a space after a comma inside a value is dropped ("Admins\, VPN"
 * and "Admins\,VPN" are one name, since config.ts trims the piece after a comma).
 */
function normalValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ').replace(/, /g, ',').toLowerCase()
}
