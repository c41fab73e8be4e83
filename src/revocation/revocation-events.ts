// Loaded when first used: an embedded-database (PGlite) start never needs pg.
import type pg from 'pg'
import { REVOCATION_CHANNEL } from '../db/revocation-repository.js'
import type { Log } from './crl-publisher.js'

/** What the listener reports. */
export interface RevocationHandlers {
  /** A revocation committed by any process (this one included). */
  onSerial: (serial: string) => void
  /**
   * LISTEN is in place (first time, or again after a loss): notifications of
   * revocations committed before this moment may have been missed.
   */
  onListening: () => void
  /** The LISTEN connection is lost (or never came up): notifications are being missed from now on. */
  onLost: () => void
}

/** Reconnect delays: 0.5 s after a loss, doubling to at most this. */
export const LISTEN_RETRY_MAX_MS = 5_000
const LISTEN_RETRY_FIRST_MS = 500
/**
 * A connection dropped without a FIN or RST (a NAT or firewall forgetting it)
 * shows no error; a query every HEARTBEAT_MS that must answer within as long
 * notices it, so "lost" is reported at most 2 × HEARTBEAT_MS after the fact.
 * The query is the LISTEN again (a no-op for a channel already listened to),
 * so pg_stat_activity keeps showing what the session is for.
 */
export const HEARTBEAT_MS = 5_000

/**
 * Listens for revocations made by any kagi process sharing the PostgreSQL
 * database (LISTEN kagi_revoked; the revoking transaction NOTIFYs at commit),
 * so each replica's caches forget a revoked serial at once. PostgreSQL does
 * not queue notifications for a session that is gone, so between `onLost`
 * and the next `onListening` the caller must not trust its caches (kagi
 * bypasses them: see services.ts). Reconnects with a backoff capped at
 * {@link LISTEN_RETRY_MAX_MS}.
 */
export function listenForRevocations(url: string, handlers: RevocationHandlers, log: Log): () => Promise<void> {
  let client: pg.Client | undefined
  let stopped = false
  let attempt = 0
  let retry: NodeJS.Timeout | undefined
  let heartbeat: NodeJS.Timeout | undefined

  const connect = async (): Promise<void> => {
    if (stopped) return
    const { default: pgModule } = await import('pg')
    if (stopped) return
    const c = new pgModule.Client({ connectionString: url, keepAlive: true })
    client = c
    c.on('notification', (msg) => {
      if (msg.channel === REVOCATION_CHANNEL && msg.payload) handlers.onSerial(msg.payload)
    })
    c.on('error', () => lost(c))
    c.on('end', () => lost(c))
    try {
      await c.connect()
      await c.query(`listen ${REVOCATION_CHANNEL}`)
      if (client !== c) return // lost (or stopped) while connecting
      if (attempt > 0) log.info({}, 'listening for revocations again')
      attempt = 0
      handlers.onListening()
      heartbeat = setInterval(() => beat(c), HEARTBEAT_MS)
      heartbeat.unref()
    } catch (error) {
      if (!stopped) log.warn({ err: error }, 'cannot listen for revocations; retrying')
      lost(c)
    }
  }
  const beat = (c: pg.Client): void => {
    const timeout = setTimeout(() => lost(c), HEARTBEAT_MS)
    timeout.unref()
    c.query(`listen ${REVOCATION_CHANNEL}`).then(() => clearTimeout(timeout), () => {
      clearTimeout(timeout)
      lost(c)
    })
  }
  /** Drops `c` (once, and only if it is still the current connection) and schedules the next attempt. */
  const lost = (c: pg.Client): void => {
    if (stopped || client !== c) return
    client = undefined
    if (heartbeat) clearInterval(heartbeat)
    heartbeat = undefined
    c.removeAllListeners()
    c.on('error', () => {}) // a late socket error on the abandoned connection must not crash the process
    void c.end().catch(() => {})
    handlers.onLost()
    attempt++
    const delay = Math.min(LISTEN_RETRY_MAX_MS, LISTEN_RETRY_FIRST_MS * 2 ** (attempt - 1))
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
    if (heartbeat) clearInterval(heartbeat)
    const c = client
    client = undefined
    c?.removeAllListeners()
    c?.on('error', () => {})
    await c?.end().catch(() => {})
  }
}
