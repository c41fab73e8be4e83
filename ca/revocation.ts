/**
 * Revocation reasons kagi accepts (RFC 5280 §5.3.1 CRLReason), with their
 * codes. certificateHold is deliberately absent: a revoked device stays revoked.
 */
export const revocationReasons = ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation'] as const
export type RevocationReason = (typeof revocationReasons)[number]

/** CRLReason ENUMERATED values (RFC 5280 §5.3.1). */
export const reasonCode: Readonly<Record<RevocationReason, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
}
