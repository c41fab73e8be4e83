import pg from 'pg'
import { REVOCATION_CHANNEL } from '../db/revocation-repository.js'
import type { Log } from './crl-publisher.js'

/**
 * Listens for revocations made by any kagi process sharing the PostgreSQL
 * database (LISTEN kagi_revoked; the revoking transaction NOTIFYs at commit),
 * so each replica's OCSP cache forgets a revoked serial at once. Reconnects
 * with a bounded backoff; while disconnected, cached answers are dropped
 * wholesale on reconnect (`onGap`) because notifications may have been missed.
 */
export function listenForRevocations(url: string, handlers: { onSerial: (serial: string) => void; onGap: () => void }, log: Log): () => Promise<void> {
  let client: pg.Client | undefined
  let stopped = false
  let attempt = 0
  let retry: NodeJS.Timeout | undefined

  const connect = async (): Promise<void> => {
    if (stopped) return
    const c = new pg.Client({ connectionString: url })
    client = c
    c.on('notification', (msg) => {
      if (msg.channel === REVOCATION_CHANNEL && msg.payload) handlers.onSerial(msg.payload)
    })
    c.on('error', () => reconnect())
    c.on('end', () => reconnect())
    try {
      await c.connect()
      await c.query(`listen ${REVOCATION_CHANNEL}`)
      if (attempt > 0) handlers.onGap()
      attempt = 0
    } catch (error) {
      log.warn({ err: error }, 'cannot listen for revocations; retrying')
      reconnect()
    }
  }
  const reconnect = (): void => {
    if (stopped || retry) return
    client?.removeAllListeners()
    void client?.end().catch(() => {})
    client = undefined
    attempt++
    const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6))
    retry = setTimeout(() => {
      retry = undefined
      void connect()
    }, delay)
    retry.unref()
  }
  void connect()
  return async () => {
    stopped = true
    if (retry) clearTimeout(retry)
    const c = client
    client = undefined
    c?.removeAllListeners()
    await c?.end().catch(() => {})
  }
}
