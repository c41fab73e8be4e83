import type { Profile } from '@node-saml/node-saml'
import t from 'tap'
import { identityFromProfile } from '../../src/auth/saml-identity.js'
import { loadConfig } from '../../src/config.js'

const saml = loadConfig({ KAGI_SAML_ADMIN_GROUPS: 'VPN Admins' }).saml

const profile = (attributes: Record<string, unknown>): Profile =>
  ({ issuer: 'https://idp.example.com', nameID: 'alice@example.com', nameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', attributes }) as unknown as Profile

t.test('a display name or group the database or the page cannot carry is left out; the sign-in goes on', async (t) => {
  const user = identityFromProfile(profile({ 'User.FirstName': 'Ali\u0000ce', 'User.LastName': 'Example', memberOf: ['VPN Admins', 'Staff\u202Egpj', 'Nul\u0000l'] }), saml)
  t.equal(user.email, 'alice@example.com')
  t.equal(user.name, undefined, 'the name with a NUL is dropped')
  t.same(user.groups, ['VPN Admins'], 'groups with NUL or a bidi override are dropped')
  t.equal(user.admin, true)
  const good = identityFromProfile(profile({ 'User.FirstName': '花子', 'User.LastName': '山田', memberOf: 'Staff' }), saml)
  t.equal(good.name, '花子 山田', 'ordinary names are kept')
  t.same(good.groups, ['Staff'])
})
