import type { Kysely } from 'kysely'
import { decryptPrivateKeyAsync, encryptPrivateKey, generateKey, serialToHex, spkiOf, type Authority } from '../ca/index.js'
import type { ProfileSigner } from '../enrollment/bundle-types.js'
import { profileSignerProfile } from '../profiles/index.js'
import type { Database } from './db/database.js'
import type { Log } from './revocation/crl-publisher.js'

/** A new signing certificate is issued when the current one has less than this left. */
const RENEW_BEFORE_MS = 30 * 86_400_000

/**
 * The configuration-profile signing credential: loaded from the database
 * (key encrypted with the CA passphrase) or issued from the issuing CA on
 * first use, shared by every replica, renewed before it expires.
 */
export class ProfileSignerService {
  private current?: { signer: ProfileSigner; notAfter: Date }
  private pending?: Promise<{ signer: ProfileSigner; notAfter: Date }>

  constructor(
    private readonly db: Kysely<Database>,
    private readonly deps: { authority: Authority; chain: readonly Buffer[]; passphrase: string; log: Log; now?: () => Date },
  ) {}

  /** The signer to use now. */
  async get(): Promise<ProfileSigner> {
    const now = this.deps.now?.() ?? new Date()
    if (this.current && this.current.notAfter.getTime() - now.getTime() > RENEW_BEFORE_MS) return this.current.signer
    this.pending ??= this.loadOrIssue(now).finally(() => (this.pending = undefined))
    this.current = await this.pending
    return this.current.signer
  }

  private async loadOrIssue(now: Date): Promise<{ signer: ProfileSigner; notAfter: Date }> {
    const caSerial = serialToHex(this.deps.authority.issuing.certificate.serial)
    const row = await this.db
      .selectFrom('profile_signer')
      .selectAll()
      .where('ca_serial', '=', caSerial)
      .where('not_after', '>', new Date(now.getTime() + RENEW_BEFORE_MS))
      .orderBy('not_after', 'desc')
      .limit(1)
      .executeTakeFirst()
    if (row) {
      const privateKey = await decryptPrivateKeyAsync(row.encrypted_key, this.deps.passphrase)
      return { signer: { certificate: Buffer.from(row.der), privateKey, chain: this.deps.chain }, notAfter: new Date(row.not_after) }
    }
    const keys = await generateKey('ecdsa-p256')
    const issued = this.deps.authority.sign(profileSignerProfile, {
      facts: {},
      key: { publicKeyInfo: spkiOf(keys.publicKey), keyAlgorithm: 'ec', keyDescription: 'ecdsa-p256' },
    })
    const encryptedKey = await encryptPrivateKey(keys.privateKey, this.deps.passphrase)
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('profile_signer').values({ serial: issued.serial, ca_serial: caSerial, der: issued.der, encrypted_key: encryptedKey, not_after: issued.notAfter }).execute()
      await trx
        .insertInto('audit_event')
        .values({ actor: 'kagi', action: 'profile-signer.issued', serial: issued.serial, details: JSON.stringify({ notAfter: issued.notAfter.toISOString() }) })
        .execute()
    })
    this.deps.log.info({ serial: issued.serial, notAfter: issued.notAfter.toISOString() }, 'profile signing certificate issued')
    return { signer: { certificate: issued.der, privateKey: keys.privateKey, chain: this.deps.chain }, notAfter: issued.notAfter }
  }
}
