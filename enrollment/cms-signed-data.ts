/**
 * CMS SignedData (RFC 5652) with the content attached: what a signed Apple
 * configuration profile is (Apple DTS: the .mobileconfig is the DER
 * ContentInfo, its encapsulated content the plist), and what
 * `openssl cms -sign -nodetach -binary -outform DER -md sha256` produces.
 */
import { attribute, signedData } from '../ca/cms.js'
import { time } from '../ca/der.js'
import { OID } from '../ca/oids.js'
import type { ProfileSigner } from './bundle-types.js'

/**
 * Signs `content` with SHA-256 and returns the DER ContentInfo of a
 * SignedData holding it, with the signer's chain and a signingTime
 * (RFC 5652 §11.3). Throws if the key does not match the signer certificate.
 */
export function signAttached(content: Buffer, signer: ProfileSigner, now: Date): Buffer {
  return signedData({
    content,
    attributes: [attribute(OID.signingTime, time(now))], // UTCTime through 2049 (§11.3)
    digest: 'sha256',
    signer,
    chain: signer.chain,
  })
}
