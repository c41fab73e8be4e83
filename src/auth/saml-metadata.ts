import type { FastifyInstance } from 'fastify'

/** The SP's fixed names (a contract): metadata URL = entityID, and the ACS. */
export const samlPaths = { metadata: '/auth/saml/metadata', login: '/auth/saml/login', acs: '/auth/saml/acs' } as const

/** The NameID format kagi asks for (SAML 2.0 Core §8.3.1): users are found by email. */
export const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'

/**
 * The SP metadata (SAML 2.0 Metadata §2.4.4) for kagi's public URL. Served
 * even before SAML is configured: an administrator registers kagi at
 * OneLogin with it, and only then has the IdP metadata kagi needs.
 * node-saml is loaded here only when asked: a kagi without SAML (the
 * development sign-in) never loads it, which saves ~50 ms of its start.
 */
export async function spMetadata(publicUrl: string): Promise<string> {
  const { SAML } = await import('@node-saml/node-saml')
  const describe = new SAML({
    issuer: `${publicUrl}${samlPaths.metadata}`,
    callbackUrl: `${publicUrl}${samlPaths.acs}`,
    // Metadata does not involve the IdP; the option is mandatory for the constructor only.
    idpCert: 'not-used-for-metadata',
    identifierFormat: EMAIL_FORMAT,
    wantAssertionsSigned: true,
  })
  return describe.generateServiceProviderMetadata(null, null)
}

/** GET /auth/saml/metadata, generated on the first request. */
export async function samlMetadataRoute(app: FastifyInstance, { publicUrl }: { publicUrl: string }): Promise<void> {
  let xml: Promise<string> | undefined
  app.get(samlPaths.metadata, async (_request, reply) => {
    xml ??= spMetadata(publicUrl)
    return reply.type('application/samlmetadata+xml').header('cache-control', 'public, max-age=300').send(await xml)
  })
}
