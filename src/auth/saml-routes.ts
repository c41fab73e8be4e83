import { ValidateInResponseTo, type Profile } from '@node-saml/node-saml'
import { Strategy as SamlStrategy } from '@node-saml/passport-saml'
import type { Authenticator } from '@fastify/passport'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { KagiServices } from '../startup/services.js'
import { resolveIdp } from './saml-idp.js'
import { checkAssertionFacts, identityFromProfile, SignInError, type SignedInUser } from './saml-identity.js'
import { REQUEST_TTL_MS, consumeAssertion, samlRequestCache } from './saml-store.js'
import { LoginBinding } from './login-binding.js'
import { EMAIL_FORMAT, samlPaths } from './saml-metadata.js'
import { completeSignIn, recordRefusedSignIn } from './sign-in.js'

/** The largest SAMLResponse form accepted at the ACS (a response for a user in 80 groups is about 20 KB). */
export const ACS_BODY_LIMIT = 256 * 1024
/**
 * Sign-in requests per minute from one address: high enough for a whole
 * office behind one NAT signing in at 9 am, low enough to stop a script.
 */
const signInRateLimit = { max: 300, timeWindow: 60_000 }


/** Renders a refusal page; supplied by the web layer so the SAML code stays free of HTML. */
export type SignInFailure = (request: FastifyRequest, reply: FastifyReply, message: string) => FastifyReply

/**
 * SAML 2.0 Web Browser SSO (SP-initiated, HTTP-Redirect request, HTTP-POST
 * response) through @node-saml/passport-saml. node-saml checks the XML
 * signature against the configured IdP certificates only, the audience, the
 * time conditions (60 s skew) and InResponseTo; kagi adds Issuer, Recipient,
 * Destination and one-time use of each assertion.
 */
export async function samlRoutes(
  app: FastifyInstance,
  { services, authenticator, failure }: { services: KagiServices; authenticator: InstanceType<typeof Authenticator>; failure: SignInFailure },
): Promise<void> {
  const { config, db } = services
  const idp = await resolveIdp(config.saml)
  const spEntityId = `${config.publicUrl}${samlPaths.metadata}`
  const acsUrl = `${config.publicUrl}${samlPaths.acs}`
  const strategy = new SamlStrategy(
    {
      name: 'saml',
      entryPoint: idp.entryPoint,
      issuer: spEntityId,
      callbackUrl: acsUrl,
      audience: spEntityId,
      idpCert: idp.certificates,
      idpIssuer: idp.issuer,
      wantAssertionsSigned: true,
      // OneLogin signs the assertion; a signature on the Response as well is checked when present.
      wantAuthnResponseSigned: false,
      validateInResponseTo: config.saml.idpInitiated ? ValidateInResponseTo.ifPresent : ValidateInResponseTo.always,
      requestIdExpirationPeriodMs: REQUEST_TTL_MS,
      cacheProvider: samlRequestCache(db),
      acceptedClockSkewMs: 60_000,
      maxAssertionAgeMs: 0,
      signatureAlgorithm: 'sha256',
      digestAlgorithm: 'sha256',
      identifierFormat: EMAIL_FORMAT,
      // Leave the authentication method (password + MFA) to OneLogin's policy.
      disableRequestedAuthnContext: true,
      passReqToCallback: true,
    },
    // passport-saml's types say Express; @fastify/passport hands it the FastifyRequest.
    (request: unknown, profile: Profile | null, done: (error: Error | null, user?: Record<string, unknown>) => void) => {
      verifyProfile(request as FastifyRequest, profile)
        .then((user) => done(null, { ...user }))
        .catch((error: Error) => done(error))
    },
    (_request: unknown, _profile: Profile | null, done: (error: Error | null) => void) => done(null),
  )

  async function verifyProfile(request: FastifyRequest, profile: Profile | null): Promise<SignedInUser> {
    if (!profile) throw new SignInError('the IdP sent no assertion')
    if (!config.saml.idpInitiated && !profile.inResponseTo) throw new SignInError('unsolicited (IdP-initiated) responses are not accepted; start at kagi')
    if (typeof profile.inResponseTo === 'string' && !loginBinding.startedHere(request, profile.inResponseTo)) {
      throw new SignInError('this sign-in was not started in this browser, or took longer than 10 minutes: start again at kagi')
    }
    // node-saml checks the Issuer only on logout messages (idpIssuer); the signed assertion's Issuer is checked here.
    if (idp.issuer && profile.issuer !== idp.issuer) throw new SignInError(`the assertion was issued by "${String(profile.issuer).slice(0, 120)}", not the configured IdP ${idp.issuer}`)
    const facts = checkAssertionFacts(profile, acsUrl, new Date())
    const user = identityFromProfile(profile, config.saml)
    if (!(await consumeAssertion(db, facts.id, facts.issuer, facts.expiresAt))) throw new SignInError('this assertion was already used (replay)')
    return user
  }

  authenticator.use('saml', strategy as never)
  const loginBinding = new LoginBinding(config.publicUrl.startsWith('https:'))

  app.get(
    samlPaths.login,
    {
      preValidation: authenticator.authenticate('saml', { session: false }),
      config: { rateLimit: signInRateLimit },
      // The AuthnRequest's ID is known once node-saml has built the redirect: remember it in this browser.
      onSend: async (_request, reply, payload) => {
        loginBinding.remember(_request, reply)
        return payload
      },
    },
    async () => {},
  )

  app.post(
    samlPaths.acs,
    {
      config: { rateLimit: signInRateLimit },
      // A signed response for a user in many groups is tens of kilobytes; other forms stay at 16 KB.
      bodyLimit: ACS_BODY_LIMIT,
      preValidation: authenticator.authenticate('saml', async (request, reply, error, user) => {
        if (error || !user) {
          const message = error ? describe(error) : 'the IdP did not sign you in'
          await recordRefusedSignIn({ db, metrics: services.metrics }, request, message)
          return failure(request, reply, message)
        }
        await completeSignIn({ db, records: services.sessions.records, metrics: services.metrics }, request, user as SignedInUser, 'saml')
        loginBinding.forget(reply)
        return reply.redirect('/', 303)
      }),
    },
    async (_request, reply) => reply,
  )
}

/** node-saml's messages are short and safe to show ("Invalid signature", "SAML assertion expired"). */
function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.split('\n')[0]!.slice(0, 200)
}
