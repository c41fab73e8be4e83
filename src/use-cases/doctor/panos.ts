import { ConfigError } from '../../config.js'
import { PanosClient } from '../../panos/client.js'
import { loadPanosConfig } from '../../panos/config.js'
import { PanosError } from '../../panos/errors.js'
import { findPath, textOf } from '../../panos/xml.js'
import { fail, NETWORK_TIMEOUT_MS, ok, skip, warn, type CheckResult } from './types.js'

/**
 * PAN-OS, when KAGI_PANOS_URL is set: the configuration `kagi panos push`
 * would use, then one read-only operational command with its credentials,
 * `show system info` (reference §1.11), which proves the host answers the
 * XML API and accepts the key (with a user and password, keygen runs first,
 * as for a push). Nothing is written. The key is never printed: PanosClient
 * redacts it from every message.
 */
export async function checkPanos(env: NodeJS.ProcessEnv): Promise<CheckResult> {
  const name = 'PAN-OS'
  if (!env.KAGI_PANOS_URL?.trim()) return skip(name, 'not configured (KAGI_PANOS_URL is unset): kagi panos push is not used', 'set KAGI_PANOS_URL and KAGI_PANOS_API_KEY (README, PAN-OS)')
  let loaded
  try {
    loaded = loadPanosConfig(env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return fail(name, error.message.replace(/\n\s*/g, ' '), 'fix the KAGI_PANOS_* variables named (README, PAN-OS)')
  }
  const config = { ...loaded.config, requestTimeoutMs: Math.min(loaded.config.requestTimeoutMs, NETWORK_TIMEOUT_MS) }
  const origin = new URL(config.url).origin
  try {
    const client = await PanosClient.connect(config)
    const info = await client.op('<show><system><info></info></system></show>')
    const host = textOf(findPath(info, 'result/system/hostname')).trim() || '(no hostname)'
    const version = textOf(findPath(info, 'result/system/sw-version')).trim() || '?'
    const text = `${origin} answers the XML API with these credentials: ${host}, PAN-OS ${version}`
    if (loaded.warnings.length) return warn(name, `${text}; ${loaded.warnings.join('; ')}`, 'use the firewall\'s https:// management URL (with KAGI_PANOS_CA_FILE for its certificate)')
    return ok(name, text)
  } catch (error) {
    if (!(error instanceof PanosError)) throw error
    const fix =
      error.kind === 'auth' ? 'create a new API key for kagi\'s administrator (type=keygen) and set KAGI_PANOS_API_KEY' :
      error.kind === 'tls' ? 'set KAGI_PANOS_CA_FILE to the CA certificate of the firewall\'s management certificate' :
      'check KAGI_PANOS_URL and that this host may reach the firewall\'s management interface'
    return fail(name, error.message, fix)
  }
}
