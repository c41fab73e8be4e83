import { lstatSync, readFileSync, statSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import type { Config } from '../../config.js'
import { dataDirLockPath, lockHolder } from '../../db/data-dir-lock.js'
import { info } from '../output.js'
import { envDigests, keyPath, limits, readLines, socketPath, type Frame, type Request } from './protocol.js'

const code = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code

/** The refusal when this user may not use the server's socket: it names whose server it is. */
function refusal(dataDir: string): string {
  let owner = '?'
  try {
    owner = String(statSync(dataDir).uid)
  } catch {
    // The message stays useful without the owner.
  }
  return (
    `kagi: refused: kagi serve is running on ${dataDir} and accepts commands only from its own user (uid ${owner}) and root; ` +
    `this process runs as uid ${process.getuid?.() ?? '?'}: run kagi as that user`
  )
}

/** How long the CLI waits for a `kagi serve` that holds the data directory but is still starting (a first start creates the CA). */
const START_WAIT_MS = 120_000
const POLL_MS = 250

/**
 * Sends `argv` to the `kagi serve` that holds the embedded database in
 * KAGI_DATA_DIR, streaming its output to this process's stdout and stderr.
 * Returns the command's exit code, or undefined when no server listens there
 * (no socket, or one left by a server that crashed): the CLI then opens the
 * database itself. A server still starting is waited for. Never used with
 * PostgreSQL, which every process may open.
 */
export async function forwardToServer(config: Readonly<Config>, argv: string[]): Promise<number | undefined> {
  if (config.databaseUrl) return undefined
  const found = await findServer(config.dataDir)
  if (found === undefined) return undefined
  if (found === 'refused') {
    info(refusal(config.dataDir))
    return 1
  }
  info(`kagi: running in the kagi serve that holds ${config.dataDir}`)
  const request: Request = { v: 1, key: found.key, argv, cwd: process.cwd(), env: envDigests(process.env) }
  found.socket.write(`${JSON.stringify(request)}\n`)
  return relay(found.socket)
}

type Found = { socket: Socket; key: string } | 'refused' | undefined

/** The server's socket, connected, and its key; while the lock says a `kagi serve` holds the directory, waits for it (bounded). */
async function findServer(dataDir: string): Promise<Found> {
  for (let waited = 0; ; waited += POLL_MS) {
    const found = await probe(dataDir)
    if (found !== undefined) return found
    const holder = lockHolder(dataDirLockPath(dataDir))
    if (holder?.what !== 'kagi serve' || waited >= START_WAIT_MS) return undefined
    if (waited === 0) info(`kagi: waiting for kagi serve (process ${holder.pid}) to finish starting…`)
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}

/** One look: undefined when no server listens (yet), 'refused' when this user may not use it. */
async function probe(dataDir: string): Promise<Found> {
  const path = socketPath(dataDir)
  try {
    if (!lstatSync(path).isSocket()) return undefined
  } catch {
    // Absent, or a data directory this user cannot enter: opening it locally says which.
    return undefined
  }
  let key: string
  try {
    key = readFileSync(keyPath(dataDir), 'utf8')
  } catch (error) {
    return code(error) === 'EACCES' ? 'refused' : undefined
  }
  try {
    return { socket: await connected(path), key }
  } catch (error) {
    if (code(error) === 'EACCES') return 'refused'
    if (code(error) === 'ECONNREFUSED' || code(error) === 'ENOENT') return undefined // left by a server that crashed, or one starting
    throw error
  }
}

/** Connects within {@link limits.connectTimeoutMs}. */
function connected(path: string): Promise<Socket> {
  return new Promise((ready, fail) => {
    const socket = connect(path)
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`no answer from ${path} within ${limits.connectTimeoutMs / 1000} s`), { code: 'ETIMEDOUT' })), limits.connectTimeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeListener('error', fail)
      ready(socket)
    })
    socket.once('error', (error) => {
      clearTimeout(timer)
      fail(error)
    })
  })
}

/** Copies the server's output here until its exit code arrives. */
function relay(socket: Socket): Promise<number> {
  return new Promise((done, fail) => {
    let exit: number | undefined
    const timer = setTimeout(() => socket.destroy(new Error(`no result within ${limits.commandTimeoutMs / 60_000} minutes`)), limits.commandTimeoutMs)
    readLines(socket, limits.frameBytes, (line) => {
      let frame: Frame
      try {
        frame = JSON.parse(line)
      } catch {
        return void socket.destroy(new Error('kagi serve sent something that is not a reply'))
      }
      if (frame.t === 'out') process.stdout.write(frame.d)
      else if (frame.t === 'err') process.stderr.write(frame.d)
      else if (frame.t === 'exit') exit = frame.code
    })
    socket.on('error', (error) => {
      clearTimeout(timer)
      fail(new Error(`lost the connection to kagi serve: ${error.message}`))
    })
    socket.on('close', () => {
      clearTimeout(timer)
      if (exit === undefined) fail(new Error('kagi serve closed the connection before the command finished (see its log)'))
      else done(exit)
    })
  })
}
