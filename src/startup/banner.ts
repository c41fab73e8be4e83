import { createHash } from 'node:crypto'

/** What `kagi serve` knows once it listens, for {@link startupBanner}. */
export interface BannerFacts {
  /** The public URL (what users and devices are given). */
  url: string
  database: { kind: 'pglite'; path: string } | { kind: 'postgres'; url: string }
  ca: { created: boolean; name: string; rootDer: Buffer; issuingDer: Buffer }
  signIn: 'saml' | 'development' | 'none'
}

/** SHA-256 of a DER certificate as `openssl x509 -noout -fingerprint -sha256` and `kagi ca show` print it. */
export function sha256Fingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':')
}

/** host[:port]/database of a PostgreSQL URL: never its user or password. */
function postgresPlace(url: string): string {
  try {
    const u = new URL(url)
    return `${u.host}${u.pathname === '/' ? '' : u.pathname}`
  } catch {
    return 'PostgreSQL (DATABASE_URL)'
  }
}

const SIGN_IN: Record<BannerFacts['signIn'], string> = {
  saml: 'SAML (the IdP set in KAGI_SAML_*)',
  development: 'development sign-in (any email, loopback only; set KAGI_SAML_IDP_METADATA for real users)',
  none: 'none offered: set KAGI_SAML_IDP_METADATA (or KAGI_SAML_ENTRY_POINT and KAGI_SAML_IDP_CERT)',
}

/**
 * The lines `kagi serve` prints on a terminal once it is ready: where it
 * listens, where the data is, which CA (with fingerprints to compare when
 * installing the root on a device), how people sign in, and what to do next.
 * The logs say the same for machines; this is for the person who started it.
 */
export function startupBanner(facts: BannerFacts): string {
  const database = facts.database.kind === 'pglite'
    ? `embedded PostgreSQL (PGlite) in ${facts.database.path}`
    : `PostgreSQL at ${postgresPlace(facts.database.url)}`
  const next = facts.signIn === 'development'
    ? [`open ${facts.url}/ and use the development sign-in (tick "admin" for the console), or`, 'create an admin token for the API: kagi token create --role admin --name you']
    : ['create an admin token for the API: kagi token create --role admin --name you']
  const lines = [
    '',
    `kagi is running at ${facts.url}`,
    '',
    `  database  ${database}`,
    `  CA        ${facts.ca.name}: ${facts.ca.created ? 'created now (first start)' : 'loaded from the database'}`,
    `            root     SHA-256 ${sha256Fingerprint(facts.ca.rootDer)}`,
    `            issuing  SHA-256 ${sha256Fingerprint(facts.ca.issuingDer)}`,
    `  sign-in   ${SIGN_IN[facts.signIn]}`,
    '',
    'Next:',
    ...next.map((step) => `  ${step}`),
    '',
    'Stop with Ctrl-C (requests in flight finish first).',
    '',
  ]
  return lines.join('\n')
}
