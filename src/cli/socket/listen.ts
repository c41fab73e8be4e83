import { randomBytes, timingSafeEqual, createHash } from 'node:crypto'
import { chmodSync, lstatSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { isAbsolute, resolve as resolvePath } from 'node:path'
import type { Log } from '../../revocation/crl-publisher.js'
import type { Runtime } from '../../startup/runtime.js'
import type { KagiServices } from '../../startup/services.js'
import { execute } from '../execute.js'
import { runInvocation } from '../invocation.js'
import { resolve } from '../parse.js'
import { envDigests, keyPath, limits, readLines, socketPath, type Frame, type Request } from './protocol.js'

/** Linux allows 107 bytes in a socket path (macOS 103); a longer KAGI_DATA_DIR gets no socket. */
const MAX_SOCKET_PATH = 103

/** The socket `kagi serve` listens on; close stops accepting, waits for running commands and removes its files. */
export interface CommandSocket {
  path: string
  close(): Promise<void>
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest()

/**
 * Listens on KAGI_DATA_DIR/kagi.sock (mode 0600, in the 0700 data
 * directory) for CLI commands, and runs each with this server's open runtime
 * and services: the same command code, checks and audit as `kagi <command>`
 * run on its own, whose output goes back over the socket. Only for the
 * embedded database, which one process may open; with PostgreSQL every CLI
 * process opens the database itself.
 *
 * A socket file left by a server that crashed is removed first: this process
 * holds the data directory's lock, so no other server can be using it.
 * Returns undefined (with a warning) when the path is too long for a socket.
 */
export async function listenForCommands(runtime: Runtime, services: KagiServices, log: Log): Promise<CommandSocket | undefined> {
  const dataDir = runtime.config.dataDir
  const path = socketPath(dataDir)
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    log.warn({ path }, 'KAGI_DATA_DIR is too long a path for the CLI socket: CLI commands need kagi serve stopped')
    return undefined
  }
  try {
    if (!lstatSync(path).isSocket()) {
      log.warn({ path }, 'the CLI socket path is taken by something that is not a socket: CLI commands need kagi serve stopped')
      return undefined
    }
    rmSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const key = randomBytes(32).toString('base64url')
  writeFileSync(keyPath(dataDir), key, { mode: 0o600 })
  // The forwarded commands share the server's services; their start and stop must not touch its timers.
  const shared: Runtime = { ...runtime, services: { ...services, start: async () => {}, stop: async () => {} } }
  const running = new Set<Promise<void>>()
  const server = createServer((socket) => {
    const done = serveConnection(socket, { key, runtime: shared, log, busy: running.size >= limits.concurrent })
    running.add(done)
    void done.finally(() => running.delete(done))
  })
  server.maxConnections = limits.concurrent * 4
  await new Promise<void>((ready, fail) => {
    server.once('error', fail)
    server.listen(path, () => ready())
  })
  chmodSync(path, 0o600)
  return {
    path,
    async close() {
      await new Promise<void>((closed) => server.close(() => closed()))
      await Promise.allSettled([...running])
      rmSync(keyPath(dataDir), { force: true })
      rmSync(path, { force: true })
    },
  }
}

/** Reads one request from `socket`, runs it and replies; never rejects. */
async function serveConnection(socket: Socket, context: { key: string; runtime: Runtime; log: Log; busy: boolean }): Promise<void> {
  const send = (frame: Frame): void => void (socket.writable && socket.write(`${JSON.stringify(frame)}\n`))
  const write = (stream: 'out' | 'err', text: string): void => {
    for (let i = 0; i < text.length; i += limits.chunkChars) send({ t: stream, d: text.slice(i, i + limits.chunkChars) })
  }
  const finish = (code: number, message?: string): void => {
    if (message) write('err', `${message}\n`)
    send({ t: 'exit', code })
    socket.end()
  }
  // A client that vanishes mid-command: the command still completes (an issuance is not cut in half); its output is dropped.
  socket.on('error', () => {})
  socket.setTimeout(limits.requestTimeoutMs, () => socket.destroy())
  const line = await new Promise<string | undefined>((got) => {
    readLines(socket, limits.requestBytes, (l) => got(l))
    socket.once('close', () => got(undefined))
  })
  if (line === undefined) return
  socket.setTimeout(0)
  const request = parseRequest(line)
  if (!request || !timingSafeEqual(sha256(request.key), sha256(context.key))) {
    return finish(1, 'kagi: refused: the request did not carry the key in KAGI_DATA_DIR/kagi.sock.key; only the user that runs kagi serve (and root) may send it commands')
  }
  if (context.busy) return finish(1, `kagi: kagi serve is already running ${limits.concurrent} CLI commands; try again in a moment`)
  const parsed = resolve(request.argv, (await import('../commands.js')).commands)
  if (parsed.kind !== 'run') return finish(2, parsed.kind === 'error' ? parsed.message : 'kagi: help is printed by the CLI itself')
  const { name, command, args, flags } = parsed
  const refusal = command.notInServer?.(flags)
  if (refusal) return finish(1, `kagi ${name}: ${refusal}`)
  for (const [flag, spec] of Object.entries(command.options)) {
    if (spec.file && typeof flags[flag] === 'string') flags[flag] = resolvePath(request.cwd, flags[flag])
  }
  const mine = envDigests(process.env)
  for (const [variable, digest] of Object.entries(request.env)) {
    if (mine[variable] !== digest) write('err', `warning: ${variable} differs from the environment of the running kagi serve, whose configuration this command uses\n`)
  }
  const started = performance.now()
  let code = 1
  try {
    code = await runInvocation({ runtime: context.runtime, write }, () => execute(name, command, context.runtime.config, args, flags))
  } catch (error) {
    write('err', `kagi ${name}: ${(error as Error).message}\n`)
  }
  context.log.info({ command: name, exitCode: code, ms: Math.round(performance.now() - started) }, 'CLI command run over the socket')
  finish(code)
}

/** The request, if it is one (any other shape is refused like a wrong key). */
function parseRequest(line: string): Request | undefined {
  let value: Partial<Request>
  try {
    value = JSON.parse(line)
  } catch {
    return undefined
  }
  const { v, key, argv, cwd, env } = value ?? {}
  if (v !== 1 || typeof key !== 'string' || typeof cwd !== 'string' || !isAbsolute(cwd)) return undefined
  if (!Array.isArray(argv) || argv.length > limits.argvItems || !argv.every((a) => typeof a === 'string' && a.length <= limits.argChars)) return undefined
  if (typeof env !== 'object' || env === null || !Object.values(env).every((d) => typeof d === 'string')) return undefined
  return { v, key, argv, cwd, env }
}
