import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { build } from '../helper.js'
import { PageClient } from '../support/session.js'

// kagi behind a load balancer: the client address comes from X-Forwarded-For only when the
// proxy is trusted (KAGI_TRUST_PROXY), and settings that would open kagi up are refused.

const onLoopback = { KAGI_PUBLIC_URL: 'http://127.0.0.1:3000' }

/** Signs in through a client that claims to be 203.0.113.7 and returns the address kagi recorded. */
async function recordedAddress(t: Parameters<typeof build>[0], env: Record<string, string>): Promise<string | null> {
  const { app, services } = await build(t, { env: { ...onLoopback, ...env } })
  const page = new PageClient(app, { 'x-forwarded-for': '203.0.113.7' })
  await page.devSignIn('alice@example.com')
  const record = await services.db.selectFrom('web_session').select('ip').executeTakeFirstOrThrow()
  return record.ip
}

t.test('X-Forwarded-For is believed only from trusted proxies', async (t) => {
  t.equal(await recordedAddress(t, {}), '127.0.0.1', 'unset: the socket address, whatever the header says')
  t.equal(await recordedAddress(t, { KAGI_TRUST_PROXY: '127.0.0.1' }), '203.0.113.7', 'the proxy at 127.0.0.1 is trusted')
  t.equal(await recordedAddress(t, { KAGI_TRUST_PROXY: '10.0.0.0/8' }), '127.0.0.1', 'a proxy list that does not include the peer: the header is ignored')
  t.equal(await recordedAddress(t, { KAGI_TRUST_PROXY: '1' }), '203.0.113.7', 'one hop')
})

t.test('KAGI_TRUST_PROXY and KAGI_SAML_IDP_METADATA are validated', async (t) => {
  t.same(loadConfig({ KAGI_TRUST_PROXY: '2' }).trustProxy, 2)
  t.same(loadConfig({ KAGI_TRUST_PROXY: '10.0.0.0/8, 192.168.1.1,::1,loopback' }).trustProxy, ['10.0.0.0/8', '192.168.1.1', '::1', 'loopback'])
  for (const bad of ['yes', '10.0.0.0/33', '300.1.1.1', 'fe80::/129', '10.0.0.0/8/1', ',']) {
    t.throws(() => loadConfig({ KAGI_TRUST_PROXY: bad }), /KAGI_TRUST_PROXY: must be a number of proxy hops/, `${bad} refused`)
  }
  t.throws(
    () => loadConfig({ NODE_ENV: 'production', KAGI_SAML_IDP_METADATA: 'http://idp.example.com/metadata' }),
    /KAGI_SAML_IDP_METADATA: must be a file path or an https:\/\/ URL with NODE_ENV=production/,
    'an http metadata URL lets a network attacker swap the IdP certificate',
  )
  t.equal(loadConfig({ NODE_ENV: 'production', KAGI_SAML_IDP_METADATA: 'https://idp.example.com/metadata' }).saml.idpMetadata, 'https://idp.example.com/metadata')
  t.equal(loadConfig({ KAGI_SAML_IDP_METADATA: 'http://127.0.0.1:8080/metadata' }).saml.idpMetadata, 'http://127.0.0.1:8080/metadata', 'a lab outside production may use http')
})

t.test('an office behind one address can sign in together: the sign-in limit is per address and generous', async (t) => {
  const { app } = await build(t, {
    env: { KAGI_PUBLIC_URL: 'http://kagi.test', KAGI_SAML_ENTRY_POINT: 'http://127.0.0.1:9/sso', KAGI_SAML_IDP_CERT: (await import('../support/saml-forge.js')).createTestIdp({ entityId: 'https://idp.test' }).certPem },
  })
  const statuses = new Set<number>()
  for (let i = 0; i < 60; i++) statuses.add((await app.inject({ method: 'GET', url: '/auth/saml/login' })).statusCode)
  t.same([...statuses], [302], '60 sign-ins from one address in a minute all go to the IdP')
})
