import type { LeafProfile } from './types.js'

/**
 * `device`: the machine certificate GlobalProtect uses for pre-logon and
 * device checks. The hostname comes from the device inventory; the URN SAN
 * ties the certificate to kagi's device record, so a lost device can be
 * found from a certificate the firewall logged.
 */
export const deviceProfile: LeafProfile = {
  id: 'device',
  description: 'machine certificate (CN and dNSName = hostname, URI = urn:kagi:device:<id>)',
  validityDays: 365,
  requires: ['hostname', 'deviceId'],
  subject: 'hostname',
  subjectAltNames: ['dns:hostname', 'uri:device'],
  keyUsage: { digitalSignature: true, keyEncipherment: 'rsa' },
  extendedKeyUsage: ['1.3.6.1.5.5.7.3.2' /* id-kp-clientAuth */],
  ocspNoCheck: false,
  revocationPointers: true,
}
