import pg from 'pg'
import t from 'tap'
import { databaseKind, freshPostgresUrl } from '../helper.js'
import { freePort } from '../support/free-port.js'
import { adminToken, CookieJar, issue, issuerFile, makeCsr, NEEDS_POSTGRES, ocspStatus, startReplica } from './replicas.js'

/**
 * Two replicas started at the same moment on an empty database: migrations,
 * the CA (an advisory lock), the session cookie key (first insert wins) and
 * the OCSP responder are each created once, and both replicas use them.
 */
t.test('two replicas started at once on an empty database agree on one CA', { skip: databaseKind !== 'postgres' && NEEDS_POSTGRES }, async (t) => {
  const databaseUrl = await freshPostgresUrl(t)
  const portA = await freePort()
  const publicUrl = `http://127.0.0.1:${portA}`
  const [a, b] = await Promise.all([startReplica(t, { databaseUrl, publicUrl }, portA), startReplica(t, { databaseUrl, publicUrl })])
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  const cas = await db.query<{ role: string; n: string }>(`select role, count(*)::text as n from ca_certificate group by role order by role`)
  t.same(cas.rows, [{ role: 'issuing', n: '1' }, { role: 'root', n: '1' }], 'one root and one issuing CA')
  t.equal((await db.query('select 1 from session_key')).rowCount, 1, 'one session cookie key')
  const [ca, cb] = await Promise.all([a, b].map(async (r) => Buffer.from(await (await fetch(`${r.url}/pki/issuing.crt`)).arrayBuffer())))
  t.same(ca, cb, 'both serve that CA')

  const token = adminToken(a.env)
  const csr = makeCsr(t)
  const issuer = await issuerFile(t, b.url)
  const cert = await issue(a.url, token, csr, 'concurrent@example.com', 'concurrent-device')
  t.equal(cert.status, 201)
  t.same(await Promise.all([ocspStatus(a.url, issuer, cert.serial!, { nonce: true }), ocspStatus(b.url, issuer, cert.serial!, { nonce: true })]), ['good', 'good'], 'both answer OCSP for it')

  const jar = new CookieJar()
  await jar.get(`${a.url}/`)
  const signIn = await jar.post(`${a.url}/auth/dev-login`, { email: 'concurrent@example.com' })
  t.equal(signIn.status, 303, 'development sign-in on A')
  t.match((await jar.get(`${b.url}/`)).body, /Signed in as[\s\S]{0,200}concurrent@example\.com/, 'the session cookie (one key) works on B')
  t.notMatch((await new CookieJar().get(`${b.url}/`)).body, /concurrent@example\.com/, 'and only with it')
})
