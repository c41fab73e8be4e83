import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { launchChromium } from '../support/browser.js'
import { kagiWithIdp } from '../support/kagi-with-idp.js'

// SAML login CSRF, attacked for real: the attacker signs in at SimpleSAMLphp in one Chromium
// context and keeps the Response meant for kagi; a page on another site (localhost, while
// kagi is 127.0.0.1) makes the victim's browser, a second context, post it to the ACS.

const escapeAttr = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;')

t.test('a SAML response obtained in another browser does not sign the victim in', async (t) => {
  const kagi = await kagiWithIdp(t)
  if (!kagi) return
  const { publicUrl, acsUrl, services } = kagi
  const browser = await launchChromium(t)

  // The attacker signs in as bob and keeps the auto-posted Response instead of sending it.
  const attacker = await (await browser.newContext()).newPage()
  let stolen: string | undefined
  await attacker.route(acsUrl, async (route) => {
    stolen = new URLSearchParams(route.request().postData() ?? '').get('SAMLResponse') ?? undefined
    await route.abort()
  })
  await attacker.goto(`${publicUrl}/auth/saml/login`)
  await attacker.waitForURL(/loginuserpass\.php/, { timeout: 15_000 })
  await attacker.fill('input[name="username"]', 'bob')
  await attacker.fill('input[name="password"]', 'bob-pass')
  await attacker.keyboard.press('Enter')
  for (let i = 0; i < 150 && !stolen; i++) await attacker.waitForTimeout(100)
  t.ok(stolen, 'the attacker holds a genuine signed Response for bob')

  // The attacker's site, on another site than kagi, posts it from the victim's browser.
  const site = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(
      `<title>cute cats</title><form id="f" method="post" action="${acsUrl}"><input type="hidden" name="SAMLResponse" value="${escapeAttr(stolen!)}"></form><script>document.getElementById('f').submit()</script>`,
    )
  })
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => site.close(() => resolve())))
  const sitePort = (site.address() as AddressInfo).port

  const victim = await (await browser.newContext()).newPage()
  await victim.goto(`${publicUrl}/`)
  await Promise.all([victim.waitForURL(acsUrl, { timeout: 15_000 }), victim.goto(`http://localhost:${sitePort}/`)])
  await victim.waitForSelector('main')
  const refusal = (await victim.textContent('main')) ?? ''
  t.match(refusal, /Sign-in failed/)
  t.match(refusal, /The sign-in could not be completed/)
  await victim.goto(`${publicUrl}/`)
  t.notMatch((await victim.textContent('main')) ?? '', /bob@example\.com/, 'the victim is not signed in as the attacker')

  // The victim's own sign-in in the same browser goes through: the binding refuses only the wrong browser.
  await victim.getByRole('link', { name: 'Sign in with OneLogin' }).click()
  await victim.waitForURL(/loginuserpass\.php/, { timeout: 15_000 })
  await victim.fill('input[name="username"]', 'alice')
  await victim.fill('input[name="password"]', 'alice-pass')
  await Promise.all([victim.waitForURL(`${publicUrl}/`, { timeout: 15_000 }), victim.keyboard.press('Enter')])
  t.match((await victim.textContent('main')) ?? '', /alice@example\.com/, 'alice signs in in her own browser')
  const refused = await services.db.selectFrom('audit_event').select('details').where('action', '=', 'auth.sign-in-refused').execute()
  t.equal(refused.length, 1, 'one refused sign-in, audited')
})
