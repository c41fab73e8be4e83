import 'reflect-metadata'
import { generateKeyPairSync } from 'node:crypto'
import { inflateRawSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { MessageType } from '../ca/scep/index.js'
import { buildApp } from '../src/app.js'
import { createToken } from '../src/db/token-repository.js'
import { createLogger } from '../src/log.js'
import { formatLine } from '../src/log-pretty.js'
import { initCa } from '../src/startup/ca-loader.js'
import { createServices, type KagiServices } from '../src/startup/services.js'
import { testConfig, testDatabase } from './helper.js'
import { createTestIdp, defaultResponseOptions, signedResponse } from './support/saml-forge.js'
import { csrFor, newRequester, pkiMessage, readCertRep, scepChallenge, scepRaCertificate } from './support/scep-request.js'
import { PageClient } from './support/session.js'

// No secret reaches the log. kagi runs with its real logger at `trace` into a buffer, through a
// full flow (a server-side key and its PKCS#12 password, tokens, a SCEP challenge used and
// reused, the development and the SAML sign-in with their cookies) and routes that log request
// objects, bodies, headers, the config and a private key on purpose; then the captured log is
// searched for every secret value. A missing redaction path makes this test fail.

interface Kagi {
  app: FastifyInstance
  services: KagiServices
  as: { admin: Record<string, string>; mdm: Record<string, string> }
  tokens: string[]
}

const captured: string[] = []
const log = createLogger({ level: 'trace', destination: { write: (line: string) => void captured.push(line) } })

/** A kagi app sharing the capturing logger, with an admin and an mdm token, and the deliberately careless routes. */
async function kagi(t: Test, env: Record<string, string>): Promise<Kagi> {
  const config = testConfig(t, env)
  const database = await testDatabase(t)
  const { ca } = await initCa(database.db, config, config.caPassphrase!)
  const services = createServices(config, database.db, ca, { passphrase: config.caPassphrase, log, pool: database.pool, exportCrls: false })
  await services.start()
  t.teardown(() => services.stop())
  const app = await buildApp(services, { loggerInstance: log })
  t.teardown(() => app.close())
  // What a careless handler might log: the request, its body at the top level and one down, its headers, the config.
  app.post('/test/careless', async (request) => {
    request.log.info({ req: request, body: request.body, headers: request.headers }, 'careless: request')
    request.log.info(request.body as object, 'careless: body at the top level')
    request.log.info({ config: services.config }, 'careless: config')
    return { ok: true }
  })
  const admin = (await createToken(database.db, 'admin', 'redaction-admin')).token
  const mdm = (await createToken(database.db, 'mdm', 'redaction-mdm')).token
  return { app, services, as: { admin: { authorization: `Bearer ${admin}` }, mdm: { authorization: `Bearer ${mdm}` } }, tokens: [admin, mdm] }
}

/** Cookie values a client holds (session, CSRF secret, language). */
const cookieValues = (page: PageClient): string[] =>
  page.cookieHeader().split('; ').filter(Boolean).map((pair) => pair.slice(pair.indexOf('=') + 1)).filter((value) => value.length >= 8)

t.test('a full run at trace level logs no secret', async (t) => {
  const secrets = new Map<string, string>()
  const keep = (name: string, value: string | undefined) => {
    t.ok(value && value.length >= 8, `${name} is a real secret value`)
    secrets.set(name, value!)
  }

  // Development sign-in (loopback), API, SCEP.
  const dev = await kagi(t, { KAGI_PUBLIC_URL: 'http://127.0.0.1:3000' })
  dev.tokens.forEach((token, i) => keep(`token ${i}`, token))
  keep('CA passphrase', dev.services.config.caPassphrase)

  const issued = await dev.app.inject({ method: 'POST', url: '/api/v1/certificates', headers: dev.as.admin, payload: { profile: 'user', user: 'alice@example.com' } })
  t.equal(issued.statusCode, 201, issued.body.slice(0, 200))
  keep('PKCS#12 password', issued.json().pkcs12Password)
  keep('PKCS#12 file', issued.json().pkcs12.slice(0, 64))
  const bad = await dev.app.inject({ method: 'POST', url: '/api/v1/certificates', headers: { authorization: 'Bearer kagi_not-a-real-token-but-secret-looking' }, payload: { profile: 'user', user: 'x@example.com' } })
  t.equal(bad.statusCode, 401)
  keep('rejected token', 'kagi_not-a-real-token-but-secret-looking')

  const challenge = await scepChallenge(dev, { user: 'bob@example.com', profile: 'user' })
  keep('SCEP challenge', challenge)
  const ra = await scepRaCertificate(dev)
  for (const attempt of ['first use', 'replay']) {
    const requester = await newRequester()
    const csr = await csrFor(requester.cryptoKeys, 'CN=ignored', { challenge })
    const res = await dev.app.inject({ method: 'POST', url: '/scep?operation=PKIOperation', headers: { 'content-type': 'application/x-pki-message' }, payload: pkiMessage(requester, { messageType: MessageType.PKCSReq, recipient: ra, content: csr }).der })
    t.equal((await readCertRep(res.rawPayload, requester)).pkiStatus, attempt === 'first use' ? '0' : '2', `SCEP ${attempt}`)
  }
  // A query string is not logged either (SCEP GET carries the request in `message=`).
  await dev.app.inject({ url: '/scep?operation=GetCACaps&challenge=query-string-secret-value' })
  keep('query string', 'query-string-secret-value')

  const page = new PageClient(dev.app)
  t.equal((await page.devSignIn('carol@example.com', true)).statusCode, 303)
  keep('CSRF token', page.csrf)
  t.equal((await page.get('/')).statusCode, 200)
  cookieValues(page).forEach((value, i) => keep(`cookie ${i}`, value))
  t.ok(cookieValues(page).length >= 1, 'the session cookie is among them')

  const privateKeyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  const careless = await dev.app.inject({
    method: 'POST',
    url: '/test/careless',
    headers: { ...dev.as.admin, cookie: page.cookieHeader(), 'content-type': 'application/json' },
    payload: { challenge, password: 'a-careless-password', pkcs12Password: issued.json().pkcs12Password, token: dev.tokens[0], privateKey: privateKeyPem, key: privateKeyPem, SAMLResponse: 'PHNhbWxwOlJlc3BvbnNl-careless' },
  })
  t.equal(careless.statusCode, 200)
  keep('posted password', 'a-careless-password')
  keep('posted SAMLResponse', 'PHNhbWxwOlJlc3BvbnNl-careless')

  // SAML sign-in with a signed response from a test IdP.
  const idp = createTestIdp({ entityId: 'https://idp.redaction.test/saml' })
  const saml = await kagi(t, { KAGI_PUBLIC_URL: 'http://kagi.test', KAGI_SAML_ENTRY_POINT: 'http://127.0.0.1:9/sso', KAGI_SAML_IDP_CERT: idp.certPem, KAGI_SAML_IDP_ISSUER: idp.entityId })
  const browser = new PageClient(saml.app)
  const login = await browser.get('/auth/saml/login')
  t.equal(login.statusCode, 302)
  const authnRequest = inflateRawSync(Buffer.from(new URL(login.headers.location as string).searchParams.get('SAMLRequest')!, 'base64')).toString('utf8')
  const response = signedResponse(idp, defaultResponseOptions({ entityId: 'http://kagi.test/auth/saml/metadata', acsUrl: 'http://kagi.test/auth/saml/acs' }, /ID="([^"]+)"/.exec(authnRequest)![1]!))
  t.equal((await browser.post('/auth/saml/acs', { SAMLResponse: response, _csrf: '' })).statusCode, 303, 'signed in')
  t.equal((await browser.copy().post('/auth/saml/acs', { SAMLResponse: response, _csrf: '' })).statusCode, 401, 'the replay is refused (and logged)')
  keep('SAMLResponse', response.slice(0, 80))
  keep('SAMLResponse (middle)', response.slice(response.length / 2, response.length / 2 + 80))
  cookieValues(browser).forEach((value, i) => keep(`SAML cookie ${i}`, value))

  const text = captured.join('')
  // The capture is the real thing: request lines at debug, the careless lines, censored values.
  t.match(text, /"msg":"request"/, 'one line per request at debug')
  t.match(text, /"msg":"careless: request"/)
  t.match(text, /"msg":"careless: config"/)
  t.match(text, /"\[redacted\]"/, 'values were censored')
  t.match(text, /"msg":"request refused"/, 'refusals are logged')
  for (const [name, secret] of secrets) t.notOk(text.includes(secret), `the ${name} is not in the log`)
  t.notMatch(text, /-----BEGIN/, 'no PEM block (private keys) in the log')
  t.notMatch(text, /PRIVATE KEY/)
  // The terminal format shows what the JSON shows: nothing more.
  const pretty = captured.map(formatLine).join('')
  for (const [name, secret] of secrets) t.notOk(pretty.includes(secret), `the ${name} is not in the terminal log`)
})

t.test('on a terminal the same lines read as text, censored the same way', async (t) => {
  const out: string[] = []
  const pretty = createLogger({ level: 'info', pretty: true, destination: { write: (line: string) => void out.push(line) } })
  pretty.warn({ url: '/api/v1/certificates', status: 503, headers: { authorization: 'Bearer kagi_secret-value' } }, 'request')
  pretty.error({ err: new Error('boom') }, 'request failed')
  pretty.debug('not at info')
  t.equal(out.length, 2)
  t.match(out[0], /^\d\d:\d\d:\d\d WARN  request url=\/api\/v1\/certificates status=503 headers=\{"authorization":"\[redacted\]"\}\n$/)
  t.match(out[1], /^\d\d:\d\d:\d\d ERROR request failed\n {4}Error: boom\n\s+at /)
  t.equal(formatLine('not json'), 'not json\n', 'other lines pass through')
})
