import { inflateRawSync } from 'node:zlib'
import t from 'tap'
import { build, type TestApp } from '../helper.js'
import { PageClient } from '../support/session.js'
import { createTestIdp, defaultResponseOptions, forgeries, signedResponse, type TestIdp } from '../support/saml-forge.js'

// kagi's SAML service provider against a Node test IdP (signing key under the test's control)
// and an attacker IdP: every forgery in the corpus must be refused at POST /auth/saml/acs.

const PUBLIC_URL = 'http://kagi.test'
const sp = { entityId: `${PUBLIC_URL}/auth/saml/metadata`, acsUrl: `${PUBLIC_URL}/auth/saml/acs` }
const idp: TestIdp = createTestIdp({ entityId: 'https://app.onelogin.com/saml/metadata/kagi-test' })
const attacker: TestIdp = createTestIdp({ entityId: 'https://app.onelogin.com/saml/metadata/kagi-test', commonName: 'attacker' })

async function samlApp(t: Parameters<typeof build>[0], env: Record<string, string> = {}): Promise<TestApp> {
  return build(t, {
    env: {
      KAGI_PUBLIC_URL: PUBLIC_URL,
      KAGI_SAML_ENTRY_POINT: 'http://127.0.0.1:9/sso',
      KAGI_SAML_IDP_CERT: idp.certPem,
      KAGI_SAML_IDP_ISSUER: idp.entityId,
      KAGI_SAML_ADMIN_GROUPS: 'VPN Admins',
      ...env,
    },
  })
}

/** Starts a login at kagi and returns the AuthnRequest ID kagi recorded. */
async function startLogin(page: PageClient): Promise<string> {
  const res = await page.get('/auth/saml/login')
  if (res.statusCode !== 302) throw new Error(`login answered ${res.statusCode}: ${res.body.slice(0, 200)}`)
  const location = new URL(res.headers.location as string)
  const xml = inflateRawSync(Buffer.from(location.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8')
  return /ID="([^"]+)"/.exec(xml)![1]!
}

const postResponse = (page: PageClient, samlResponse: string) => page.post('/auth/saml/acs', { SAMLResponse: samlResponse, _csrf: '' })

t.test('metadata: the entityID is the metadata URL, the ACS is POST', async (t) => {
  const { app } = await samlApp(t)
  const res = await app.inject({ method: 'GET', url: '/auth/saml/metadata' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/samlmetadata\+xml/)
  t.match(res.body, `entityID="${sp.entityId}"`)
  t.match(res.body, new RegExp(`Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${sp.acsUrl}"`))
  t.match(res.body, /nameid-format:emailAddress/)
})

t.test('login redirects to the IdP with a recorded request ID; a valid response signs in once', async (t) => {
  const { app, services } = await samlApp(t)
  const page = new PageClient(app)
  t.match((await page.get('/')).body, /Sign in with OneLogin/)
  t.notMatch((await page.get('/')).body, /Development sign-in/, 'no development sign-in when SAML is configured')
  const id = await startLogin(page)
  t.ok(await services.db.selectFrom('saml_request').select('id').where('id', '=', id).executeTakeFirst(), 'request ID stored in the database')
  const response = signedResponse(idp, defaultResponseOptions(sp, id))
  const ok = await postResponse(page, response)
  t.equal(ok.statusCode, 303, ok.body.slice(-300))
  const home = await page.get('/')
  t.match(home.body, /Alice Example &lt;alice@example\.com&gt;/, 'display name from User.FirstName + User.LastName')
  t.match(home.body, /href="\/admin"/, 'memberOf "VPN Admins" makes an admin')
  const replay = await postResponse(page.copy(), response)
  t.equal(replay.statusCode, 401, 'the same response again is refused')
  const user = await services.db.selectFrom('app_user').selectAll().where('email', '=', 'alice@example.com').executeTakeFirstOrThrow()
  t.equal(user.display_name, 'Alice Example')
  const events = await services.db.selectFrom('audit_event').select('action').where('action', 'like', 'auth.%').execute()
  t.same(events.map((e) => e.action).sort(), ['auth.sign-in-refused', 'auth.signed-in'])
})

t.test('a replayed assertion is refused even when two posts race', async (t) => {
  const { app } = await samlApp(t)
  const page = new PageClient(app)
  const response = signedResponse(idp, defaultResponseOptions(sp, await startLogin(page)))
  // Three tabs of the browser that started the sign-in (a different browser is refused anyway: login CSRF).
  const results = await Promise.all([postResponse(page.copy(), response), postResponse(page.copy(), response), postResponse(page.copy(), response)])
  t.same(results.map((r) => r.statusCode).sort(), [303, 401, 401], 'exactly one sign-in')
})

t.test('every forged or broken response is refused', async (t) => {
  const { app } = await samlApp(t)
  const names = forgeries(idp, attacker, defaultResponseOptions(sp, 'placeholder')).map((f) => f.name).filter((n) => n !== 'valid')
  t.ok(names.length >= 25, `${names.length} forgeries`)
  for (const name of names) {
    const page = new PageClient(app)
    const id = await startLogin(page)
    const forgery = forgeries(idp, attacker, defaultResponseOptions(sp, id)).find((f) => f.name === name)!
    const res = await postResponse(page, forgery.samlResponse)
    if (forgery.expect === 'reject-or-signed-identity' && res.statusCode === 303) {
      // node-saml reads the identity from the signed bytes: the signed value, never a truncated one.
      const home = await page.get('/')
      t.ok(home.body.includes(`&lt;${forgery.signedNameId!}&gt;`), `${name}: signed in only as what the IdP signed`)
      t.notMatch(home.body, new RegExp(`${forgery.vulnerableNameId!.replace(/\./g, '\\.')}(?!\\.)`), `${name}: not as the truncated identity`)
      continue
    }
    t.equal(res.statusCode, 401, `${name} refused (${forgery.note})`)
    t.match(res.body, /Sign-in failed/, `${name}: a page that says so`)
    t.notMatch((await page.get('/')).body, /Signed in as/, `${name}: no session`)
  }
})

t.test('IdP-initiated responses are accepted only when enabled', async (t) => {
  const { app } = await samlApp(t, { KAGI_SAML_IDP_INITIATED: 'true' })
  const page = new PageClient(app)
  const res = await postResponse(page, signedResponse(idp, defaultResponseOptions(sp, undefined)))
  t.equal(res.statusCode, 303)
  t.match((await page.get('/')).body, /alice@example\.com/)
})

t.test('an email that cannot go into a certificate is refused with a message', async (t) => {
  const { app, services } = await samlApp(t)
  const page = new PageClient(app)
  const options = { ...defaultResponseOptions(sp, await startLogin(page)), nameId: 'アリス@example.com', attributes: {} }
  const res = await postResponse(page, signedResponse(idp, options))
  t.equal(res.statusCode, 401)
  t.match(res.body, /The sign-in could not be completed/, 'the employee reads what to do, from the translation table')
  const refused = await services.db.selectFrom('audit_event').select('details').where('action', '=', 'auth.sign-in-refused').executeTakeFirstOrThrow()
  t.match(JSON.stringify(refused.details), /not an ASCII email address/, 'the reason is in the audit log')
})

t.test('login CSRF: a response for a sign-in another browser started is refused', async (t) => {
  const { app, services } = await samlApp(t)
  const attacker = new PageClient(app)
  // The attacker starts a sign-in and gets a genuine response for their own account…
  const attackerRequest = await startLogin(attacker)
  const forMallory = signedResponse(idp, { ...defaultResponseOptions(sp, attackerRequest), nameId: 'mallory@example.com', attributes: { 'User.email': 'mallory@example.com' } })
  // …and makes the victim's browser post it (the victim may even have a sign-in of their own under way).
  const victim = new PageClient(app)
  const victimRequest = await startLogin(victim)
  const res = await postResponse(victim, forMallory)
  t.equal(res.statusCode, 401)
  t.match(res.body, /The sign-in could not be completed/)
  t.notMatch((await victim.get('/')).body, /mallory@example\.com/, 'the victim is not signed in as the attacker')
  const refused = await services.db.selectFrom('audit_event').select('details').where('action', '=', 'auth.sign-in-refused').executeTakeFirstOrThrow()
  t.match(JSON.stringify(refused.details), /not started in this browser/)
  // The victim's own sign-in, started in this browser, still goes through.
  t.equal((await postResponse(victim, signedResponse(idp, defaultResponseOptions(sp, victimRequest)))).statusCode, 303)
  t.match((await victim.get('/')).body, /alice@example\.com/)
})

t.test('the pre-login cookie: HttpOnly, scoped to /auth/saml, SameSite=None; Secure on https only', async (t) => {
  const { app } = await samlApp(t)
  const http = await app.inject({ method: 'GET', url: '/auth/saml/login' })
  const cookie = [http.headers['set-cookie']].flat().find((c) => c?.startsWith('kagi_saml_request='))!
  t.match(cookie, /Path=\/auth\/saml; Max-Age=600; HttpOnly$/)
  t.notMatch(cookie, /SameSite/i, 'on http no SameSite attribute (SameSite=None needs Secure)')
  const secure = await samlApp(t, { KAGI_PUBLIC_URL: 'https://kagi.test' })
  const https = await secure.app.inject({ method: 'GET', url: '/auth/saml/login' })
  const secureCookie = [https.headers['set-cookie']].flat().find((c) => c?.startsWith('kagi_saml_request='))!
  t.match(secureCookie, /SameSite=None; Secure/, 'the IdP POST is cross-site: the cookie must go with it')
})

t.test('a large signed response (a user in 80 groups) is accepted at the ACS; other forms stay small', async (t) => {
  const { app } = await samlApp(t)
  const page = new PageClient(app)
  const groups = Array.from({ length: 80 }, (_, i) => `CN=Group number ${i} with a long name,OU=Groups,OU=Company,DC=example,DC=com`)
  const response = signedResponse(idp, { ...defaultResponseOptions(sp, await startLogin(page)), attributes: { 'User.email': 'alice@example.com', memberOf: groups } })
  t.ok(response.length > 16 * 1024, `response ${response.length} bytes`)
  const res = await postResponse(page, response)
  t.equal(res.statusCode, 303, res.body.slice(0, 300))
  const big = await page.post('/auth/logout', { filler: 'x'.repeat(32 * 1024) })
  t.equal(big.statusCode, 413, 'a 32 KB form elsewhere is refused')
  t.match(big.body, /too large/)
})
