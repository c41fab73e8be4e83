import { buildApp } from '../../src/app.js'
import { build, type TestApp } from '../helper.js'
import { CHROMIUM_INSTALL_HINT, chromiumAvailable } from './browser.js'
import { requireComponent } from './components.js'
import { freePort, IDP_INSTALL_HINT, idpAvailable, startIdp, type IdpHandle } from './idp.js'
import { tempDir } from './openssl.js'

/** What {@link kagiWithIdp} started. */
export interface KagiWithIdp extends TestApp {
  publicUrl: string
  acsUrl: string
  idp: IdpHandle
  dir: ReturnType<typeof tempDir>
}

/**
 * The browser tests' set-up: Debian's SimpleSAMLphp as the IdP, and kagi
 * listening on a free loopback port with that IdP's metadata (plus `env`).
 * Undefined (the test is skipped, or fails under CI) when SimpleSAMLphp or
 * Chromium is missing.
 */
export async function kagiWithIdp(t: Parameters<typeof build>[0] & Parameters<typeof requireComponent>[0], env: Record<string, string> = {}): Promise<KagiWithIdp | undefined> {
  if (!requireComponent(t, { name: 'SimpleSAMLphp IdP (simplesamlphp + php-cli + php-xml)', available: idpAvailable(), install: IDP_INSTALL_HINT })) return undefined
  if (!requireComponent(t, { name: 'Chromium', available: chromiumAvailable(), install: CHROMIUM_INSTALL_HINT })) return undefined
  const port = await freePort()
  const publicUrl = `http://127.0.0.1:${port}`
  const acsUrl = `${publicUrl}/auth/saml/acs`
  const idp = await startIdp(t, { spEntityId: `${publicUrl}/auth/saml/metadata`, acsUrl })
  const dir = tempDir(t)
  const built = await build(t, { env: { KAGI_PUBLIC_URL: publicUrl, PORT: String(port), KAGI_SAML_IDP_METADATA: dir.file('idp-metadata.xml', idp.metadataXml), ...env } })
  const app = await buildApp(built.services)
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port })
  return { ...built, app, publicUrl, acsUrl, idp, dir }
}
