import { AsyncLocalStorage } from 'node:async_hooks'
import type { Runtime } from '../startup/runtime.js'

/**
 * A command forwarded to a running `kagi serve` over its Unix socket (see
 * socket/listen.ts): the server's open runtime, used instead of opening the
 * database (which the server holds), and where the command's output goes.
 * The very same command code runs in both places; only these two differ.
 */
export interface Invocation {
  runtime: Runtime
  write(stream: 'out' | 'err', text: string): void
}

const storage = new AsyncLocalStorage<Invocation>()

/** The forwarded command this code runs for, or undefined in a CLI process of its own. */
export const currentInvocation = (): Invocation | undefined => storage.getStore()

/** Runs `fn` (a command) as `invocation`: its output and database are the server's. */
export const runInvocation = <T>(invocation: Invocation, fn: () => Promise<T>): Promise<T> => storage.run(invocation, fn)
