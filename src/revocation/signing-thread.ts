import { sign as cryptoSign, type KeyObject } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import { signatureVerifies, softwareSigner, type PublicKeyInput, type Signer } from '../../ca/index.js'

/*
 * Shared memory between the event loop and the signing thread: a ring of
 * SLOTS jobs and two counters. The loop writes a job into the next slot and
 * then advances SUBMITTED; the thread does every job up to SUBMITTED (a
 * signature to make, or one to check), writes each result into its slot and
 * advances COMPLETED. Counters are
 * Int32 and wrap; (a - b) | 0 compares them. Atomics.store and
 * Atomics.load order the plain writes to the slot before them (ECMAScript
 * memory model: a sequentially consistent store synchronizes with the load
 * that reads it).
 */
const SUBMITTED = 0
const COMPLETED = 1
const STOP = 2
const COUNTERS = 4
/** Jobs in the ring at most (more in flight at once are signed in place): kagi's OCSP load has 16 or so. */
const SLOTS = 128
const SLOT_BYTES = 8192
/**
 * Slot layout: operation (SIGN, VERIFY), key id, data length, length of the
 * signature to check (VERIFY), result, then the data (followed by the
 * signature to check), and at SIGNATURE_AT the signature made. The result is
 * the signature's length (SIGN) or 1 and 0 for valid and invalid (VERIFY);
 * -1: the thread could not do it, and the loop does it in place.
 */
const SIGN = 0
const VERIFY = 1
/** Byte offsets of the slot's header fields (Int32 each). */
const OPERATION_AT = 0
const KEY_AT = 4
const LENGTH_AT = 8
const EXTRA_AT = 12
const RESULT_AT = 16
const HEADER_BYTES = 20
const MAX_SIGNATURE_BYTES = 1024
const MAX_DATA_BYTES = SLOT_BYTES - HEADER_BYTES - MAX_SIGNATURE_BYTES
const SIGNATURE_AT = HEADER_BYTES + MAX_DATA_BYTES

/**
 * The thread's code, run with `eval` so that it needs no file of its own
 * (kagi runs from its bundle, from dist/ or from the TypeScript sources,
 * each with other paths). It sleeps on SUBMITTED (Atomics.wait) and signs
 * with the keys sent to it on its port; nothing else reaches it.
 */
const THREAD_CODE = `
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads')
const { sign, verify } = require('node:crypto')
const { counters, ring, layout } = workerData
const { SUBMITTED, COMPLETED, STOP, SLOTS, SLOT_BYTES, HEADER_BYTES, SIGNATURE_AT, MAX_SIGNATURE_BYTES, VERIFY, OPERATION_AT, KEY_AT, LENGTH_AT, EXTRA_AT, RESULT_AT } = layout
const view = new DataView(ring)
const bytes = new Uint8Array(ring)
const keys = new Map()
function keyOf(id) {
  while (!keys.has(id)) {
    const m = receiveMessageOnPort(parentPort)
    if (!m) break
    if (m.message.forget !== undefined) keys.delete(m.message.forget)
    else keys.set(m.message.id, m.message)
  }
  return keys.get(id)
}
let done = Atomics.load(counters, COMPLETED)
while (Atomics.load(counters, STOP) === 0) {
  const submitted = Atomics.load(counters, SUBMITTED)
  if (submitted === done) {
    Atomics.wait(counters, SUBMITTED, submitted)
    continue
  }
  while (done !== submitted) {
    const at = ((done >>> 0) % SLOTS) * SLOT_BYTES
    const id = view.getInt32(at + KEY_AT)
    const key = keyOf(id)
    const data = bytes.subarray(at + HEADER_BYTES, at + HEADER_BYTES + view.getInt32(at + LENGTH_AT))
    let result = -1
    if (key && view.getInt32(at + OPERATION_AT) === VERIFY) {
      const end = at + HEADER_BYTES + data.length
      try {
        result = verify(key.hash, data, key.key, bytes.subarray(end, end + view.getInt32(at + EXTRA_AT))) ? 1 : 0
      } catch {
        result = 0
      }
      // A key sent for one check is dropped after it.
      keys.delete(id)
    } else if (key) {
      const signature = sign(key.hash, data, key.key)
      if (signature.length <= MAX_SIGNATURE_BYTES) {
        bytes.set(signature, at + SIGNATURE_AT)
        result = signature.length
      }
    }
    view.setInt32(at + RESULT_AT, result)
    done = (done + 1) | 0
    Atomics.store(counters, COMPLETED, done)
    Atomics.notify(counters, COMPLETED)
  }
}
`

/** Atomics.waitAsync (ES2024, in Node since 16), typed here because kagi's TypeScript lib is ES2022. */
const waitAsync = (Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> } }).waitAsync

/** A job in the ring: how to settle it from its slot's result, or by doing it on the loop. */
interface Job {
  inPlace: () => unknown
  fromSlot: (at: number, result: number) => unknown
  resolve: (value: never) => void
  reject: (error: unknown) => void
}

/** Keys the thread holds at most: the responders' current keys and their predecessors, renewed every few days. */
const MAX_KEYS = 8

/**
 * A thread of its own for signatures that would otherwise run on the event
 * loop (fresh OCSP answers; certificates issued and the CSR signatures
 * checked before them), for a process with a core to spare.
 *
 * Why not crypto.sign's callback (libuv's thread pool): every signature is
 * a job of its own there, and on 2 cores the pool's 4 threads take turns
 * sleeping and waking for them (finish_task_switch was 17 % of the server's
 * samples in perf); fresh answers went only from 15,600 to 16,600/s. The
 * pool is shared with the key pool's RSA generation and PBKDF2, so it cannot
 * be made smaller. Why not a MessagePort per job or per batch: cloning each
 * message cost the thread ~11 µs beside a ~25 µs signature, and the same
 * again on the loop (17,000/s). Here jobs go through shared memory: the
 * loop writes the data to be signed into a slot and wakes the thread if it
 * sleeps (Atomics.notify); the thread signs every job waiting, one after
 * another without sleeping, and the loop is told by Atomics.waitAsync,
 * which resolves once for all the signatures made since it last looked.
 * Fresh answers on 2 cores, one process (bench/ocsp-client.ts): 16,000/s
 * signed on the loop, 21,200-22,800/s here; the loop's CPU per answer went
 * from ~62 to ~36 µs, the thread's is the signature's (~29 µs).
 *
 * A key is sent to the thread once, on its port (KeyObjects are cloned
 * between threads by Node; the thread keeps at most {@link MAX_KEYS}). A job
 * the ring cannot take (full, or data larger than a slot) and every job
 * after the thread fails or exits is signed in place: an answer is never
 * lost to the thread.
 */
export class SigningThread {
  private worker: Worker | undefined
  private failed = false
  private readonly counters = new Int32Array(new SharedArrayBuffer(COUNTERS * 4))
  private readonly ring = new SharedArrayBuffer(SLOTS * SLOT_BYTES)
  private readonly view = new DataView(this.ring)
  private readonly bytes = new Uint8Array(this.ring)
  private readonly keyIds = new Map<KeyObject, { id: number; hash: string }>()
  private nextKeyId = 0
  /** Jobs in the ring, oldest first: job i of the ring is counter value (read + i). */
  private readonly inRing: Job[] = []
  /** Jobs submitted (the loop's copy of SUBMITTED) and those whose signature was taken back. */
  private submitted = 0
  private read = 0
  private watching = false
  private holding = false

  constructor(private readonly log?: { warn(object: object, message: string): void }) {}

  /** A software signer over `privateKey` whose signOffThread signs on this thread. */
  signerFor(privateKey: KeyObject): Signer {
    const signer = softwareSigner(privateKey)
    return { ...signer, signOffThread: (data) => this.sign(signer.hash, data, privateKey) }
  }

  /** Signs `data` with `key` and `hash`, as crypto.sign does, on the thread when it can take the job. */
  sign(hash: string, data: Uint8Array, key: KeyObject): Promise<Buffer> {
    const inPlace = (): Buffer => cryptoSign(hash, data, key)
    return this.submit(SIGN, () => this.keyIdOf(key, hash), data, undefined, inPlace, (at, length) =>
      Buffer.from(this.bytes.subarray(at + SIGNATURE_AT, at + SIGNATURE_AT + length)),
    )
  }

  /**
   * Checks `signature` over `data` with the public `key`, as crypto.verify
   * does (false also for a signature or a key it cannot parse), on the thread
   * when it can take the job. The key is sent for this one check; a JWK is
   * imported there (ca/csr.ts leaves CSR keys so).
   */
  verify(hash: string, data: Uint8Array, key: PublicKeyInput, signature: Uint8Array): Promise<boolean> {
    const inPlace = (): boolean => signatureVerifies(hash, data, key, signature)
    return this.submit(VERIFY, () => this.sendOnce(key, hash), data, signature, inPlace, (_at, valid) => valid === 1)
  }

  private submit<T>(operation: number, keyId: () => number | undefined, data: Uint8Array, extra: Uint8Array | undefined, inPlace: () => T, fromSlot: (at: number, result: number) => T): Promise<T> {
    const size = data.length + (extra?.length ?? 0)
    if (this.failed || size > MAX_DATA_BYTES || this.inRing.length >= SLOTS) return settle(inPlace)
    let id: number | undefined
    try {
      id = keyId()
    } catch (error) {
      // The thread could not be started (or sent the key): done in place, now and from now on.
      this.log?.warn({ err: error }, 'the signing thread could not start: signatures are made and checked on the event loop')
      this.shutDown()
    }
    if (id === undefined) return settle(inPlace)
    return new Promise<T>((resolve, reject) => {
      const at = slotAt(this.submitted)
      this.view.setInt32(at + OPERATION_AT, operation)
      this.view.setInt32(at + KEY_AT, id)
      this.view.setInt32(at + LENGTH_AT, data.length)
      this.view.setInt32(at + EXTRA_AT, extra?.length ?? 0)
      this.bytes.set(data, at + HEADER_BYTES)
      if (extra) this.bytes.set(extra, at + HEADER_BYTES + data.length)
      this.inRing.push({ inPlace, fromSlot, resolve: resolve as (value: never) => void, reject })
      this.submitted = (this.submitted + 1) | 0
      Atomics.store(this.counters, SUBMITTED, this.submitted)
      Atomics.notify(this.counters, SUBMITTED)
      this.watch()
    })
  }

  /** Ends the thread; signatures still owed are made in place. */
  async stop(): Promise<void> {
    const worker = this.worker
    this.worker = undefined
    this.shutDown()
    await worker?.terminate()
  }

  private thread(): Worker {
    if (this.worker) return this.worker
    const layout = { SUBMITTED, COMPLETED, STOP, SLOTS, SLOT_BYTES, HEADER_BYTES, SIGNATURE_AT, MAX_SIGNATURE_BYTES, VERIFY, OPERATION_AT, KEY_AT, LENGTH_AT, EXTRA_AT, RESULT_AT }
    // Its heap holds a few keys and one signature at a time: bounded small, so a leak there ends in the error handler, not in kagi's RSS.
    const worker = new Worker(THREAD_CODE, { eval: true, workerData: { counters: this.counters, ring: this.ring, layout }, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } })
    // Only while it owes signatures does it keep the process running (holdProcess).
    worker.unref()
    this.holding = false
    worker.on('error', (error) => {
      this.log?.warn({ err: error }, 'the signing thread failed: signatures are made and checked on the event loop from now on')
      this.shutDown()
    })
    worker.on('exit', () => this.shutDown())
    this.worker = worker
    return worker
  }

  /** The key's id in the thread, sending the key first if the thread does not have it; undefined: sign this one in place. */
  private keyIdOf(key: KeyObject, hash: string): number | undefined {
    const known = this.keyIds.get(key)
    // A key is sent with one hash (a Signer's key signs with one); another hash with it is signed in place.
    if (known) return known.hash === hash ? known.id : undefined
    const id = this.nextKeyId++
    this.keyIds.set(key, { id, hash })
    const worker = this.send(id, key, hash)
    if (this.keyIds.size > MAX_KEYS) {
      const [oldest, { id: oldestId }] = this.keyIds.entries().next().value!
      this.keyIds.delete(oldest)
      worker.postMessage({ forget: oldestId })
    }
    return id
  }

  /** A key for one job: the thread drops it after the job. */
  private sendOnce(key: PublicKeyInput, hash: string): number {
    const id = this.nextKeyId++
    this.send(id, key, hash)
    return id
  }

  /** Posted before the job that needs it is submitted: the thread reads its port when it meets an id it does not know. */
  private send(id: number, key: PublicKeyInput, hash: string): Worker {
    const worker = this.thread()
    worker.postMessage({ id, key, hash })
    return worker
  }

  /** Waits (without blocking the loop) for COMPLETED to move past what was read, while jobs are in the ring. */
  private watch(): void {
    if (this.watching || this.failed) return
    // Owed signatures keep the process running, as a pending crypto job would; an idle thread does not.
    this.holdProcess(this.inRing.length > 0)
    while (this.inRing.length > 0) {
      const seen = this.read
      const wait = waitAsync(this.counters, COMPLETED, seen)
      if (wait.async) {
        this.watching = true
        void wait.value.then(() => {
          this.watching = false
          this.takeSigned()
          this.watch()
        })
        return
      }
      this.takeSigned()
    }
    this.holdProcess(false)
  }

  private holdProcess(hold: boolean): void {
    if (hold === this.holding || !this.worker) return
    this.holding = hold
    if (hold) this.worker.ref()
    else this.worker.unref()
  }

  /** Settles every job the thread has done since the last look. */
  private takeSigned(): void {
    const completed = Atomics.load(this.counters, COMPLETED)
    while (this.read !== completed && this.inRing.length > 0) {
      const job = this.inRing.shift()!
      const at = slotAt(this.read)
      const result = this.view.getInt32(at + RESULT_AT)
      this.read = (this.read + 1) | 0
      if (result < 0) settleInPlace(job)
      else job.resolve(job.fromSlot(at, result) as never)
    }
  }

  /** The thread stopped or failed: what it did is taken, the rest (and all later jobs) done in place. */
  private shutDown(): void {
    if (this.failed) return
    this.failed = true
    Atomics.store(this.counters, STOP, 1)
    Atomics.notify(this.counters, SUBMITTED)
    this.takeSigned()
    for (const job of this.inRing.splice(0)) settleInPlace(job)
  }
}

/** Byte offset of the slot of job number `counter` (a wrapping Int32; 2^32 is a multiple of SLOTS, so the ring stays in step). */
function slotAt(counter: number): number {
  return ((counter >>> 0) % SLOTS) * SLOT_BYTES
}

function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work())
  } catch (error) {
    return Promise.reject(error)
  }
}

function settleInPlace(job: Job): void {
  settle(job.inPlace).then(job.resolve as (value: unknown) => void, job.reject)
}
