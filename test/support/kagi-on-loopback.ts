import { buildApp } from '../../src/app.js'
import { build, type TestApp } from '../helper.js'
import { CHROMIUM_INSTALL_HINT, chromiumAvailable } from './browser.js'
import { requireComponent } from './components.js'
import { freePort } from './idp.js'

/**
 * kagi listening on a free loopback port with a loopback public URL, so the
 * development sign-in is offered: browser tests of the employee page that
 * need no IdP. Undefined (the test is skipped, or fails under CI) without
 * Chromium.
 */
export async function kagiOnLoopback(t: Parameters<typeof build>[0] & Parameters<typeof requireComponent>[0], env: Record<string, string> = {}): Promise<(TestApp & { publicUrl: string }) | undefined> {
  if (!requireComponent(t, { name: 'Chromium', available: chromiumAvailable(), install: CHROMIUM_INSTALL_HINT })) return undefined
  const port = await freePort()
  const publicUrl = `http://127.0.0.1:${port}`
  const built = await build(t, { env: { KAGI_PUBLIC_URL: publicUrl, PORT: String(port), ...env } })
  const app = await buildApp(built.services)
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port })
  return { ...built, app, publicUrl }
}
