import type { LeafProfile } from './types.js'

/**
 * `user`: an employee's client certificate for GlobalProtect user
 * authentication. PAN-OS reads the username from the email SAN
 * (`subject-alt:email`) or the UPN (`subject-alt:principal-name`), so both
 * carry the email from kagi's user record.
 */
export const userProfile: LeafProfile = {
  id: 'user',
  description: 'employee client certificate (CN and SANs = email)',
  validityDays: 365,
  requires: ['email'],
  subject: 'email',
  subjectAltNames: ['rfc822:email', 'upn:email'],
  keyUsage: { digitalSignature: true, keyEncipherment: 'rsa' },
  extendedKeyUsage: ['1.3.6.1.5.5.7.3.2' /* id-kp-clientAuth */],
  ocspNoCheck: false,
  revocationPointers: true,
}
