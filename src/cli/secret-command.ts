import { randomBytes } from 'node:crypto'
import { closeSync, openSync, writeSync } from 'node:fs'
import type { ListedCommand } from './command.js'
import { out, UsageError } from './output.js'

/** Bytes of randomness in a generated secret: 256 bits, 43 base64url characters (KAGI_SESSION_SECRET wants at least 32). */
export const SECRET_BYTES = 32

/**
 * Creates `path` holding a new random secret and a newline, mode 0600.
 * O_EXCL (`wx`): an existing file, or a symbolic link planted at the path, is
 * never written through: overwriting a CA passphrase would lock the CA keys
 * away for good.
 */
export function writeNewSecret(path: string): void {
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o600)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw new Error(`${path} already exists; kagi never replaces a secret (the CA keys may be encrypted with it): remove it yourself or choose another file`)
    if (code === 'ENOENT') throw new Error(`cannot create ${path}: its folder does not exist`)
    throw new Error(`cannot create ${path} (${code ?? error})`)
  }
  try {
    writeSync(fd, `${randomBytes(SECRET_BYTES).toString('base64url')}\n`)
  } finally {
    closeSync(fd)
  }
}

/** `kagi secret generate`: the CA passphrase file (KAGI_CA_PASSPHRASE_FILE) or a session secret, written to a file, never printed. */
export const secretCommands: Record<string, ListedCommand> = {
  'secret generate': {
    summary: 'write a new random secret (32 bytes, base64url) to a new file, mode 0600: the CA passphrase file (KAGI_CA_PASSPHRASE_FILE) or a KAGI_SESSION_SECRET; never overwrites',
    usage: 'kagi secret generate --out FILE',
    options: { out: { value: 'FILE', file: true, help: 'the file to create (mode 0600); it must not exist yet' } },
    example: 'kagi secret generate --out deploy/secrets/ca-passphrase',
    // Needs neither the database nor the CA: nothing to open, and nothing secret on stdout.
    run: async (_config, _args, flags) => {
      const path = flags.out
      if (typeof path !== 'string' || path === '') throw new UsageError('--out FILE is required (the secret is written to a file, never printed)')
      writeNewSecret(path)
      out(`wrote a new secret to ${path} (mode 0600)`)
      return 0
    },
  },
}
