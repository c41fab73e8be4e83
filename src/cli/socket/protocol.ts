import { createHash } from 'node:crypto'
import { join } from 'node:path'
import type { Socket } from 'node:net'

/**
 * The local protocol between the CLI and a running `kagi serve` on the
 * embedded database: one JSON request line from the CLI, then JSON lines
 * back (stdout and stderr text, then the exit code). Unix socket only, in
 * the data directory; never a TCP port.
 */

/** The socket, in the data directory (0700), mode 0600. */
export const socketPath = (dataDir: string): string => join(dataDir, 'kagi.sock')

/**
 * A random key the server writes (mode 0600) when it starts listening, which
 * the CLI must send back. Node exposes no SO_PEERCRED, so the server cannot
 * ask the kernel who connected; reading this file proves the peer is kagi's
 * user (or root), even if the socket's or the directory's mode were loosened.
 */
export const keyPath = (dataDir: string): string => join(dataDir, 'kagi.sock.key')

/** Every bound of the protocol. */
export const limits = {
  /** The request line (argv, folder, environment digests). */
  requestBytes: 64 * 1024,
  /** Arguments in a request, and characters in each. */
  argvItems: 200,
  argChars: 8192,
  /** A reply line the CLI accepts. */
  frameBytes: 1024 * 1024,
  /** Characters of output per reply line (JSON escaping at most sixfold stays below frameBytes). */
  chunkChars: 128 * 1024,
  /** How long the server waits for the request once connected, and the CLI for the connection. */
  requestTimeoutMs: 5_000,
  connectTimeoutMs: 5_000,
  /** How long the CLI waits for a command (a PAN-OS commit or a long audit verify) before giving up. */
  commandTimeoutMs: 30 * 60_000,
  /** Forwarded commands the server runs at once; more are told to retry. */
  concurrent: 4,
} as const

/** What the CLI sends. */
export interface Request {
  v: 1
  key: string
  argv: string[]
  /** The CLI's working folder: relative file flags are resolved against it. */
  cwd: string
  /** SHA-256 of each KAGI_* variable the CLI has set, so the server can say which of its own differ. */
  env: Record<string, string>
}

/** What the server sends back. */
export type Frame = { t: 'out' | 'err'; d: string } | { t: 'exit'; code: number }

/** SHA-256 digests of the KAGI_* variables of `env` (the data directory excepted: the socket was found through it). */
export function envDigests(env: NodeJS.ProcessEnv): Record<string, string> {
  const digests: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('KAGI_') && name !== 'KAGI_DATA_DIR' && value !== undefined) digests[name] = createHash('sha256').update(value).digest('hex')
  }
  return digests
}

/** Calls `onLine` for each line read from `socket`; a line longer than `maxBytes` destroys the socket with an error. */
export function readLines(socket: Socket, maxBytes: number, onLine: (line: string) => void): void {
  let buffered = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    buffered += chunk
    for (let newline = buffered.indexOf('\n'); !socket.destroyed; newline = buffered.indexOf('\n')) {
      const line = newline >= 0 ? buffered.slice(0, newline) : buffered
      if (Buffer.byteLength(line) > maxBytes) return void socket.destroy(new Error(`a message longer than ${maxBytes} bytes`))
      if (newline < 0) return
      buffered = buffered.slice(newline + 1)
      onLine(line)
    }
  })
}
