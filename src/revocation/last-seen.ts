/**
 * "Last seen by the VPN", read from the OCSP check counts (ocsp-checks.ts):
 * the firewall asks kagi's responder about a certificate when a device
 * presents it, then caches the answer until its nextUpdate
 * (KAGI_OCSP_VALIDITY), so this is the last *fresh* check, not every
 * connection. One rule for the API, the admin console and the employee page.
 */

/** An active certificate issued longer ago than this and never checked is flagged "issued, never used". */
export const NEVER_USED_AFTER_MS = 86_400_000

/** What the OCSP counts say about one certificate. */
export type VpnUse =
  /** Checked at least once; `at` is the last check. */
  | { seen: true; at: Date; checks: number }
  /** Active, issued more than a day ago, never checked: likely not installed where the VPN client looks. */
  | { seen: false; neverUsed: true }
  /** Not checked (yet): issued within the day, or no longer active. */
  | { seen: false; neverUsed: false }

export interface OcspFacts {
  status: 'active' | 'revoked'
  notAfter: Date
  issuedAt: Date
  lastOcspCheckAt: Date | null
  ocspChecks: number
}

export function vpnUse(c: OcspFacts, now: Date = new Date()): VpnUse {
  if (c.lastOcspCheckAt) return { seen: true, at: c.lastOcspCheckAt, checks: c.ocspChecks }
  const active = c.status === 'active' && c.notAfter > now
  return { seen: false, neverUsed: active && now.getTime() - c.issuedAt.getTime() > NEVER_USED_AFTER_MS }
}

/** The "issued, never used" flag alone (CSV exports, filters). */
export function neverUsed(c: OcspFacts, now: Date = new Date()): boolean {
  const use = vpnUse(c, now)
  return !use.seen && use.neverUsed
}
