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

/** Is a user with these group values an admin, with KAGI_SAML_ADMIN_GROUPS set to `configured` (read by loadConfig, as at start)? */
const adminWith = (configured: string, groups: string[]): boolean =>
  identityFromProfile(profile({ memberOf: groups }), loadConfig({ KAGI_SAML_ADMIN_GROUPS: configured }).saml).admin

t.test('admin groups: a configured DN matches only that DN; a bare name matches the name or a DN whose CN it is', async (t) => {
  const dn = 'CN=VPN Admins,OU=Groups,DC=example,DC=com'
  const cases: [string, string, string[], boolean][] = [
    ['fail/dn-same-cn-other-ou', dn, ['CN=VPN Admins,OU=Contractors,DC=evil,DC=com'], false],
    ['fail/dn-bare-cn', dn, ['VPN Admins'], false],
    ['fail/dn-prefix', dn, ['CN=VPN Admins,OU=Groups'], false],
    ['fail/dn-longer', dn, [`${dn},DC=evil`], false],
    ['fail/dn-piece-dc', dn, ['DC=com'], false],
    ['fail/dn-piece-ou', dn, ['OU=Groups'], false],
    ['fail/dn-piece-cn', dn, ['CN=VPN Admins'], false],
    ['ok/dn-exact', dn, [dn], true],
    ['ok/dn-case', dn, ['cn=vpn admins,ou=groups,dc=EXAMPLE,dc=COM'], true],
    ['ok/dn-spaces-after-commas', dn, ['CN=VPN Admins, OU=Groups, DC=example, DC=com'], true],
    ['ok/dn-among-others', dn, ['Staff', 'CN=Staff,OU=Groups,DC=example,DC=com', dn], true],
    ['ok/dn-written-with-spaces', 'CN=VPN Admins, OU=Groups, DC=example, DC=com', [dn], true],
    ['ok/two-dns', `CN=Other,OU=Groups,DC=example,DC=com,${dn}`, [dn], true],
    ['ok/two-dns-first', `CN=Other,OU=Groups,DC=example,DC=com,${dn}`, ['CN=Other,OU=Groups,DC=example,DC=com'], true],
    ['fail/two-dns-mixed', `CN=Other,OU=Groups,DC=example,DC=com,${dn}`, ['CN=Other,OU=Groups,DC=example,DC=org'], false],
    ['ok/ad-users-container', 'CN=VPN Admins,CN=Users,DC=example,DC=com', ['CN=VPN Admins,CN=Users,DC=example,DC=com'], true],
    ['fail/ad-users-container', 'CN=VPN Admins,CN=Users,DC=example,DC=com', ['CN=VPN Admins,CN=Builtin,DC=example,DC=com'], false],
    ['ok/dn-and-name', `${dn},Helpdesk`, ['Helpdesk'], true],
    ['ok/escaped-comma', 'CN=Admins\\, VPN,OU=Groups,DC=example,DC=com', ['CN=Admins\\, VPN,OU=Groups,DC=example,DC=com'], true],
    ['fail/escaped-comma-piece', 'CN=Admins\\, VPN,OU=Groups,DC=example,DC=com', ['VPN'], false],
    ['ok/hex-escape', 'CN=Admins\\2C VPN,OU=Groups,DC=example,DC=com', ['CN=Admins\\, VPN,OU=Groups,DC=example,DC=com'], true],
    ['ok/name-exact', 'VPN Admins', ['VPN Admins'], true],
    ['ok/name-case', 'VPN Admins', ['vpn admins'], true],
    ['ok/name-as-cn', 'VPN Admins', [dn], true],
    ['ok/name-as-cn-any-ou', 'VPN Admins', ['CN=VPN Admins,OU=Contractors,DC=evil,DC=com'], true],
    ['ok/name-as-single-rdn', 'VPN Admins', ['CN=VPN Admins'], true],
    ['fail/name-in-ou', 'VPN Admins', ['CN=Staff,OU=VPN Admins,DC=example,DC=com'], false],
    ['fail/name-prefix', 'VPN Admins', ['VPN Admins 2'], false],
    ['fail/name-multivalued-rdn', 'VPN Admins', ['CN=VPN Admins+UID=x,OU=Groups,DC=example,DC=com'], false],
    ['fail/none-configured', '', ['VPN Admins', dn], false],
  ]
  for (const [name, configured, groups, expected] of cases) t.equal(adminWith(configured, groups), expected, `${name}: ${configured} / ${groups.join(' | ')}`)
})
