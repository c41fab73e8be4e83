import type { Kysely } from 'kysely'
import { x509lib } from '../../ca/x509-lib.js'
import { ConfigError, isLoopbackHost, type Config } from '../config.js'
import { findActiveCas, latestIssuedDer, lockCaCreation, updatePublicUrl } from '../db/ca-repository.js'
import type { Database } from '../db/database.js'

/**
 * The configuration a process runs with once the CA exists: its public URL
 * is the one stored with the CA, so a CLI started without the server's PORT
 * or HOST names the same CRL and OCSP URLs as the server. An explicit
 * KAGI_PUBLIC_URL that differs is refused rather than overridden: the
 * operator meant something else, and should decide.
 */
export function withStoredPublicUrl(config: Readonly<Config>, stored: string): Readonly<Config> {
  if (stored === config.publicUrl) return config
  if (config.publicUrlSet) {
    throw new ConfigError(
      `KAGI_PUBLIC_URL is ${config.publicUrl}, but the CA's public URL is ${stored} (stored with the CA, named by the certificates it issues). ` +
        `Unset KAGI_PUBLIC_URL or set it to ${stored}; or, to move kagi, run \`kagi ca set-public-url ${config.publicUrl}\` ` +
        `(certificates already issued keep naming ${stored}, so it should keep answering).`,
    )
  }
  return Object.freeze({ ...config, publicUrl: stored })
}

/**
 * Resolves the public URL when a runtime opens: the stored one, adopted
 * first for a CA created before kagi stored it. Returns the configuration to
 * use and what to tell the operator.
 */
export async function resolvePublicUrl(db: Kysely<Database>, config: Readonly<Config>): Promise<{ config: Readonly<Config>; notes: string[] }> {
  const issuing = (await findActiveCas(db)).find((row) => row.role === 'issuing')
  const notes: string[] = []
  let resolved = config
  if (issuing) {
    const stored = issuing.public_url ?? (await adopt(db, config, issuing, notes))
    resolved = withStoredPublicUrl(config, stored)
  }
  const warning = loopbackWarning(resolved, Boolean(issuing))
  if (warning) notes.push(warning)
  return { config: resolved, notes }
}

/** Outside development (production, or listening beyond loopback), a loopback public URL is a mistake devices cannot work with. */
export function loopbackWarning(config: Readonly<Config>, caExists: boolean): string | undefined {
  const development = !config.production && isLoopbackHost(config.host)
  if (development || !isLoopbackHost(new URL(config.publicUrl).hostname)) return undefined
  const fix = caExists ? 'change it with `kagi ca set-public-url URL`' : 'set KAGI_PUBLIC_URL before the CA is created'
  return `the public URL ${config.publicUrl} is a loopback address: devices and firewalls cannot fetch CRLs or OCSP from it, and the certificates issued name it (${fix})`
}

/**
 * Stores `url` as the active CA's public URL (`kagi ca set-public-url`),
 * audited. Returns the previous one, or undefined when there is no CA yet.
 */
export async function setPublicUrl(db: Kysely<Database>, url: string, actor: string): Promise<{ from: string | null } | undefined> {
  return db.transaction().execute(async (trx) => {
    await lockCaCreation(trx)
    const issuing = (await findActiveCas(trx)).find((row) => row.role === 'issuing')
    if (!issuing) return undefined
    if (issuing.public_url !== url) await updatePublicUrl(trx, issuing.public_url, url, actor)
    return { from: issuing.public_url }
  })
}

type CaRow = Awaited<ReturnType<typeof findActiveCas>>[number]

/**
 * Stores a public URL for a CA that has none (created before migration
 * 0018): one its certificates already name, preferring this process's
 * KAGI_PUBLIC_URL when it is among them, else this process's public URL.
 */
async function adopt(db: Kysely<Database>, config: Readonly<Config>, issuing: CaRow, notes: string[]): Promise<string> {
  const named = await namedUrls(db, issuing)
  const pick = named.find((n) => config.publicUrlSet && n.url === config.publicUrl) ?? named[0]
  const url = pick?.url ?? config.publicUrl
  const stored = await db.transaction().execute(async (trx) => {
    await lockCaCreation(trx)
    // Replicas upgraded together: the first to get here decides.
    const current = (await findActiveCas(trx)).find((row) => row.role === 'issuing')?.public_url
    if (current) return current
    await updatePublicUrl(trx, null, url, 'system')
    return url
  })
  if (stored === url) {
    const why = pick ? `which ${pick.source} names` : "this process's public URL: the CA's certificates name none of kagi's"
    notes.push(`the CA had no public URL stored (it predates storing one): adopted ${url}, ${why}; change it with \`kagi ca set-public-url URL\``)
  }
  return stored
}

/** The public URLs kagi's certificates of this CA name: in the certificate it signed last, and in the issuing CA's own (when kagi made it). */
async function namedUrls(db: Kysely<Database>, issuing: CaRow): Promise<{ url: string; source: string }[]> {
  const x509 = await x509lib()
  const urlsOf = (der: Buffer) => {
    const cert = new x509.X509Certificate(new Uint8Array(der))
    const crl = cert.getExtension(x509.CRLDistributionPointsExtension)?.distributionPoints[0]?.distributionPoint?.fullName?.[0]?.uniformResourceIdentifier
    const caIssuers = cert.getExtension(x509.AuthorityInfoAccessExtension)?.caIssuers[0]?.value
    return { crl, caIssuers }
  }
  const before = (uri: string | undefined, suffix: string) => (uri?.endsWith(suffix) ? uri.slice(0, -suffix.length) : undefined)
  const found: { url: string; source: string }[] = []
  const leaf = await latestIssuedDer(db, issuing.serial)
  const leafUrl = leaf && before(urlsOf(leaf).crl, '/pki/crl')
  if (leafUrl) found.push({ url: leafUrl, source: 'the certificate it issued last' })
  // kagi's issuing CA names the root's CRL and certificate at kagi; an imported one names its owner's.
  const own = urlsOf(Buffer.from(issuing.der))
  const caUrl = before(own.crl, '/pki/root.crl')
  if (caUrl && caUrl === before(own.caIssuers, '/pki/root.crt')) found.push({ url: caUrl, source: 'the issuing CA certificate' })
  return found
}
