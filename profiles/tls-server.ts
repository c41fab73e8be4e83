import type { LeafProfile } from './types.js'

/**
 * `tls-server`: the certificate of kagi's "check my device" listener
 * (KAGI_CHECK_LISTEN), for KAGI_CHECK_HOSTNAME. Issued by kagi's own CA, so
 * a device that trusts kagi's root (every enrolled one) trusts the page
 * without a warning. serverAuth only (RFC 5280 §4.2.1.12) and the name in a
 * dNSName, which is what browsers match (RFC 6125 §6.4.4: the CN is not
 * looked at when a dNSName is present). Short-lived and renewed
 * automatically like the other service certificates; no CRL or AIA
 * pointers, because it is not in the certificate inventory that kagi's OCSP
 * responder and CRL describe.
 */
export const tlsServerProfile: LeafProfile = {
  id: 'tls-server',
  description: 'TLS server certificate of the check-my-device listener (CN and dNSName = KAGI_CHECK_HOSTNAME)',
  validityDays: 30,
  requires: ['hostname'],
  subject: 'hostname',
  subjectAltNames: ['dns:hostname'],
  keyUsage: { digitalSignature: true, keyEncipherment: 'rsa' },
  extendedKeyUsage: ['1.3.6.1.5.5.7.3.1' /* id-kp-serverAuth */],
  ocspNoCheck: false,
  revocationPointers: false,
}
