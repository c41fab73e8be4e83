import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from '../config.js'
import { ConfigError } from '../config.js'

/** The passphrase that protects the CA keys, and where it came from (for a log line, never the value). */
export interface Passphrase {
  value: string
  source: 'environment' | 'file' | 'generated' | 'data-dir'
  warning?: string
}

/** Where a generated development passphrase is kept. */
export const generatedPassphrasePath = (dataDir: string): string => join(dataDir, 'ca-passphrase')

/**
 * Resolves the CA passphrase: KAGI_CA_PASSPHRASE, else KAGI_CA_PASSPHRASE_FILE,
 * else (outside production only) a passphrase generated once into the data
 * directory with mode 0600. In production a missing passphrase is an error:
 * a key and its passphrase on the same disk protect nothing.
 */
export function resolvePassphrase(config: Config): Passphrase {
  if (config.caPassphrase) return { value: config.caPassphrase, source: 'environment', warning: weak(config.caPassphrase) }
  if (config.caPassphraseFile) {
    let text: string
    try {
      text = readFileSync(config.caPassphraseFile, 'utf8')
    } catch (error) {
      throw new ConfigError(`KAGI_CA_PASSPHRASE_FILE: cannot read ${config.caPassphraseFile}: ${(error as NodeJS.ErrnoException).code ?? error}`)
    }
    const value = text.replace(/\r?\n$/, '')
    if (!value) throw new ConfigError(`KAGI_CA_PASSPHRASE_FILE: ${config.caPassphraseFile} is empty`)
    return { value, source: 'file', warning: weak(value) }
  }
  if (config.production) {
    throw new ConfigError('NODE_ENV=production requires KAGI_CA_PASSPHRASE or KAGI_CA_PASSPHRASE_FILE (the passphrase that encrypts the CA keys)')
  }
  const path = generatedPassphrasePath(config.dataDir)
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777
    const value = readFileSync(path, 'utf8').trim()
    return { value, source: 'data-dir', warning: mode & 0o077 ? `${path} is readable by other users (mode ${mode.toString(8)}); chmod 600 it` : undefined }
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
  const value = randomBytes(32).toString('base64url')
  writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' })
  return {
    value,
    source: 'generated',
    warning: `no KAGI_CA_PASSPHRASE set: generated one into ${path} (mode 0600). Fine for trying kagi; in production set KAGI_CA_PASSPHRASE or KAGI_CA_PASSPHRASE_FILE and keep it apart from the database`,
  }
}

function weak(value: string): string | undefined {
  return value.length < 16 ? 'the CA passphrase is shorter than 16 characters; use a long random one' : undefined
}
