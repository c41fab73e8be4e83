import { isKagiMessage, SIBLING_ACK_TIMEOUT_MS, type PrimaryMessage, type WorkerMessage } from './cluster-messages.js'
import type { KagiServices } from './services.js'

/** This process's side of a KAGI_WORKERS cluster (see cluster-primary.ts). */
export interface ClusterChannel {
  /** Tells the primary this process listens. */
  ready(): void
  /** Stops answering the primary (shutdown). */
  close(): void
}

/** The other processes of this process's cluster, as revocations see them (services.siblings). */
export interface Siblings {
  /** Resolves once every other process has dropped its cached answers for these serials (or after SIBLING_ACK_TIMEOUT_MS). */
  revoked(serials: readonly string[]): Promise<void>
}

/**
 * Joins the cluster this process was started in: revocations made here wait
 * for the other processes (services.siblings), theirs are applied here
 * (the OCSP caches forget the serials; the CRL follows through NOTIFY, as
 * on a replica), and GET /metrics answers with every process's metrics.
 */
export function joinCluster(services: KagiServices): ClusterChannel {
  const send = (message: WorkerMessage): void => {
    if (process.connected) process.send!(message)
  }
  let nextId = 1
  const waiting = new Map<number, (message: PrimaryMessage) => void>()
  /** The primary's reply to `message`, or undefined when none came within SIBLING_ACK_TIMEOUT_MS. */
  const ask = (message: WorkerMessage & { id: number }): Promise<PrimaryMessage | undefined> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(message.id)
        resolve(undefined)
      }, SIBLING_ACK_TIMEOUT_MS)
      waiting.set(message.id, (reply) => {
        clearTimeout(timer)
        waiting.delete(message.id)
        resolve(reply)
      })
      send(message)
    })

  const onMessage = (message: unknown): void => {
    if (!isKagiMessage<PrimaryMessage>(message)) return
    if (message.kagi === 'sibling-revoked') {
      for (const serial of message.serials) services.ocsp.invalidate(serial)
      send({ kagi: 'sibling-revoked-ack', id: message.id })
      return
    }
    if (message.kagi === 'collect-metrics') {
      const { id } = message
      void services.metrics.json().then((metrics) => send({ kagi: 'metrics-json', id, metrics }), () => send({ kagi: 'metrics-json', id, metrics: [] }))
      return
    }
    waiting.get(message.id)?.(message)
  }
  process.on('message', onMessage)

  services.siblings = {
    // Answered or timed out, the revocation goes on: NOTIFY reaches a process that did not answer.
    revoked: async (serials) => {
      await ask({ kagi: 'revoked', id: nextId++, serials: [...serials] })
    },
  }
  services.metrics.joinCluster(async () => {
    const reply = await ask({ kagi: 'metrics', id: nextId++ })
    if (reply?.kagi !== 'metrics-text' || reply.text === undefined) {
      throw new Error(`cannot aggregate the processes' metrics: ${reply === undefined ? 'the primary did not answer' : reply.kagi === 'metrics-text' ? reply.error : 'unexpected answer'}`)
    }
    return reply.text
  })
  return {
    ready: () => send({ kagi: 'ready' }),
    close: () => {
      process.off('message', onMessage)
      services.siblings = undefined
    },
  }
}
