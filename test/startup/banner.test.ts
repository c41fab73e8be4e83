import { createHash } from 'node:crypto'
import t from 'tap'
import { sha256Fingerprint, startupBanner, type BannerFacts } from '../../src/startup/banner.js'

// The start-up banner is a pure function of what kagi serve knows once it listens.

const rootDer = Buffer.from('root certificate DER')
const issuingDer = Buffer.from('issuing certificate DER')
const colonHex = (der: Buffer) => createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':')

const facts = (over: Partial<BannerFacts> = {}): BannerFacts => ({
  url: 'http://127.0.0.1:3000',
  database: { kind: 'pglite', path: '/srv/kagi/data/db' },
  ca: { created: true, name: 'Example Corp', rootDer, issuingDer },
  signIn: 'development',
  ...over,
})

t.test('fingerprints are colon-separated SHA-256 of the DER, as openssl prints them', async (t) => {
  t.equal(sha256Fingerprint(rootDer), colonHex(rootDer))
  t.match(sha256Fingerprint(rootDer), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
})

t.test('first start on the embedded database with the development sign-in', async (t) => {
  const text = startupBanner(facts())
  t.match(text, 'kagi is running at http://127.0.0.1:3000')
  t.match(text, 'embedded PostgreSQL (PGlite) in /srv/kagi/data/db')
  t.match(text, 'Example Corp: created now (first start)')
  t.match(text, `root     SHA-256 ${colonHex(rootDer)}`)
  t.match(text, `issuing  SHA-256 ${colonHex(issuingDer)}`)
  t.match(text, 'development sign-in')
  t.match(text, 'open http://127.0.0.1:3000/ and use the development sign-in')
  t.match(text, 'kagi token create --role admin --name you')
})

t.test('a loaded CA on PostgreSQL with SAML: the host and database, never the password', async (t) => {
  const text = startupBanner(facts({
    url: 'https://kagi.example.com',
    database: { kind: 'postgres', url: 'postgres://kagi:s3cret-pw@db.internal:5433/kagi' },
    ca: { created: false, name: 'Example Corp', rootDer, issuingDer },
    signIn: 'saml',
  }))
  t.match(text, 'PostgreSQL at db.internal:5433/kagi')
  t.notMatch(text, 's3cret-pw')
  t.notMatch(text, 'kagi:')
  t.match(text, 'Example Corp: loaded from the database')
  t.match(text, 'sign-in   SAML')
  t.notMatch(text, 'development sign-in', 'no development sign-in is suggested')
  t.match(text, 'kagi token create --role admin --name you')
})

t.test('no sign-in offered: the banner names the variables to set', async (t) => {
  const text = startupBanner(facts({ url: 'http://kagi.lan:3000', signIn: 'none' }))
  t.match(text, 'none offered: set KAGI_SAML_IDP_METADATA')
  t.notMatch(text, 'open http://kagi.lan:3000/ and use the development sign-in')
})
