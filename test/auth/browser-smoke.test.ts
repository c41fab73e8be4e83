import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { chromiumAvailable, CHROMIUM_INSTALL_HINT, launchChromium } from '../support/browser.js'
import { requireComponent } from '../support/components.js'

t.test('chromium loads a page from a loopback server and posts a form', async (t) => {
  if (!requireComponent(t, { name: 'Chromium', available: chromiumAvailable(), install: CHROMIUM_INSTALL_HINT })) return
  const posted: string[] = []
  const server = createServer((req, res) => {
    if (req.method === 'POST') {
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => {
        posted.push(body)
        res.writeHead(200, { 'content-type': 'text/html' }).end('<title>done</title><p id="r">posted</p>')
      })
      return
    }
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<title>kagi smoke</title><form method="post" action="/acs"><input name="SAMLResponse" value="abc+/="><button id="go">go</button></form>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo

  const started = Date.now()
  const browser = await launchChromium(t)
  const page = await browser.newPage()
  await page.goto(`http://127.0.0.1:${port}/`, { timeout: 15_000 })
  t.equal(await page.title(), 'kagi smoke')
  await Promise.all([page.waitForURL(`http://127.0.0.1:${port}/acs`, { timeout: 15_000 }), page.click('#go')])
  t.equal(await page.textContent('#r'), 'posted')
  t.same(posted, ['SAMLResponse=abc%2B%2F%3D'], 'the form body arrived url-encoded')
  t.comment(`chromium launch + two page loads: ${Date.now() - started} ms`)
})
