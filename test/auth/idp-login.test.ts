import { SAML, ValidateInResponseTo, type Profile } from '@node-saml/node-saml'
import { DOMParser } from '@xmldom/xmldom'
import t from 'tap'
import { requireComponent } from '../support/components.js'
import { createTestIdp } from '../support/saml-forge.js'
import { EMAIL_NAMEID_FORMAT, IDP_INSTALL_HINT, idpAvailable, IdpLoginError, idpLogin, startIdp, type IdpHandle } from '../support/idp.js'

// A real SP-initiated login against SimpleSAMLphp (Debian package) under `php -S`, without a
// browser: node-saml builds the AuthnRequest, fetch() plays the user, node-saml validates.

const spEntityId = 'http://127.0.0.1:3000/auth/saml/metadata'
const acsUrl = 'http://127.0.0.1:3000/auth/saml/acs'
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256'
const DS = 'http://www.w3.org/2000/09/xmldsig#'

function sp(idp: IdpHandle, wantAuthnResponseSigned: boolean, idpCert = idp.certPem, validateInResponseTo = ValidateInResponseTo.always): SAML {
  return new SAML({
    entryPoint: idp.ssoUrl,
    issuer: spEntityId,
    callbackUrl: acsUrl,
    idpCert,
    audience: spEntityId,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned,
    validateInResponseTo, // default in-memory cache: getAuthorizeUrlAsync saves the request ID
    requestIdExpirationPeriodMs: 300_000,
    acceptedClockSkewMs: 60_000,
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
    identifierFormat: EMAIL_NAMEID_FORMAT,
  })
}

t.test('SimpleSAMLphp IdP: SP-initiated login with fetch, validated by node-saml', async (t) => {
  if (!requireComponent(t, { name: 'SimpleSAMLphp IdP (simplesamlphp + php-cli + php-xml)', available: idpAvailable(), install: IDP_INSTALL_HINT })) return

  let started = Date.now()
  const idp = await startIdp(t, { spEntityId, acsUrl })
  t.comment(`IdP start (openssl key, config, php -S answering metadata): ${Date.now() - started} ms`)

  t.test('metadata', async (t) => {
    t.match(idp.entityId, /^http:\/\/127\.0\.0\.1:\d+\/saml2\/idp\/metadata\.php$/)
    t.match(idp.metadataXml, `entityID="${idp.entityId}"`)
    t.match(idp.metadataXml, `Location="${idp.ssoUrl}"`)
    const certBody = idp.certPem.replace(/-----[^-]+-----|\s/g, '')
    t.ok(idp.metadataXml.replace(/\s/g, '').includes(certBody), 'the signing certificate is published in the metadata')
    t.match(idp.metadataXml, EMAIL_NAMEID_FORMAT)
  })

  t.test('alice logs in: signed Response + Assertion, OneLogin attribute names', async (t) => {
    const saml = sp(idp, true)
    started = Date.now()
    const url = await saml.getAuthorizeUrlAsync('relay-alice', undefined, {})
    t.ok(url.startsWith(`${idp.ssoUrl}?SAMLRequest=`), 'HTTP-Redirect AuthnRequest to the SSO URL')
    const login = await idpLogin(url, 'alice', 'alice-pass')
    const loginMs = Date.now() - started
    t.match(login.loginUrl, /\/module\.php\/core\/loginuserpass\.php\?AuthState=/)
    t.equal(login.action, acsUrl, 'the auto-POST form targets the ACS')
    t.equal(login.RelayState, 'relay-alice')

    const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: login.SAMLResponse })
    t.comment(`login (AuthnRequest → login form → POST → auto-POST form) ${loginMs} ms, + validation ${Date.now() - started - loginMs} ms`)
    const p = profile as Profile
    t.equal(p.nameID, 'alice@example.com')
    t.equal(p.nameIDFormat, EMAIL_NAMEID_FORMAT)
    t.equal(p.issuer, idp.entityId)
    t.same(p.attributes, {
      'User.email': 'alice@example.com',
      'User.FirstName': 'Alice',
      'User.LastName': 'Example',
      memberOf: ['Employees', 'VPN Admins'],
    })

    const xml = Buffer.from(login.SAMLResponse, 'base64').toString('utf8')
    const doc = new DOMParser().parseFromString(xml, 'text/xml')
    const response = doc.documentElement!
    t.equal(response.getAttribute('Destination'), acsUrl, 'Destination = ACS (what the SP must check)')
    const recipient = doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'SubjectConfirmationData')[0]
    t.equal(recipient?.getAttribute('Recipient'), acsUrl, 'Recipient = ACS')
    const signed = Array.from(doc.getElementsByTagNameNS(DS, 'Signature')).map((s) => (s.parentNode as Element).localName)
    t.same(signed.sort(), ['Assertion', 'Response'], 'IdP signs both Response and Assertion')
    for (const m of Array.from(doc.getElementsByTagNameNS(DS, 'SignatureMethod'))) t.equal(m.getAttribute('Algorithm'), RSA_SHA256)

    await t.rejects(saml.validatePostResponseAsync({ SAMLResponse: login.SAMLResponse }), /InResponseTo is not valid/, 'a replayed response is refused')
  })

  t.test('bob logs in: a single group arrives as a string, not an array', async (t) => {
    const saml = sp(idp, false)
    const login = await idpLogin(await saml.getAuthorizeUrlAsync('relay-bob', undefined, {}), 'bob', 'bob-pass')
    const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: login.SAMLResponse })
    t.equal(profile?.nameID, 'bob@example.com')
    t.equal((profile?.attributes as Record<string, unknown> | undefined)?.memberOf, 'Employees')
  })

  t.test('wrong password: the IdP shows the form again, no response', async (t) => {
    const saml = sp(idp, true)
    const error = await idpLogin(await saml.getAuthorizeUrlAsync('r', undefined, {}), 'alice', 'not-her-password').catch((e: unknown) => e)
    t.type(error, IdpLoginError)
    t.match((error as Error).message, /Incorrect username or password/)
  })

  t.test('a response from this IdP is refused when the SP pins another certificate', async (t) => {
    const saml = sp(idp, false)
    const login = await idpLogin(await saml.getAuthorizeUrlAsync('r', undefined, {}), 'alice', 'alice-pass')
    // the request ID lives in `saml`'s cache, not in `other`'s: InResponseTo checking off to reach the signature check
    const other = sp(idp, false, createTestIdp({ entityId: 'https://foreign.test/metadata' }).certPem, ValidateInResponseTo.never)
    await t.rejects(other.validatePostResponseAsync({ SAMLResponse: login.SAMLResponse }), /Invalid signature/)
  })
})
