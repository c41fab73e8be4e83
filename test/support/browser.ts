import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

/** Debian's chromium; playwright-core drives it, never downloads a browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium'
export const CHROMIUM_INSTALL_HINT = 'apt-get install -y chromium'

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH)
}

/**
 * Launches headless Chromium, closed at t.teardown. playwright-core already passes --headless
 * (headless: true), --no-sandbox (chromiumSandbox: false), --no-first-run,
 * --disable-background-networking and --disable-component-update; the rest are added here.
 */
export async function launchChromium(t: { teardown: (fn: () => unknown) => void }): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    chromiumSandbox: false,
    args: ['--disable-gpu', '--disable-quic', '--disable-sync', '--no-proxy-server'],
    timeout: 30_000,
  })
  t.teardown(() => browser.close())
  return browser
}
