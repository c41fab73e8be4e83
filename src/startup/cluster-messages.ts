/**
 * What the `kagi serve` processes of one cluster (KAGI_WORKERS) say to each
 * other over Node's cluster IPC channel. Every message carries `kagi`, so
 * prom-client's own messages on the same channel are told apart.
 */
export type WorkerMessage =
  /** Listening: counted for the primary's "ready" line. */
  | { kagi: 'ready' }
  /** Revocations committed here: the primary relays them to the other processes and answers `revoked-ack` once they all have them. */
  | { kagi: 'revoked'; id: number; serials: string[] }
  /** GET /metrics: the primary answers `metrics-text` with every process's metrics aggregated. */
  | { kagi: 'metrics'; id: number }
  /** A sibling's revocations are applied here. */
  | { kagi: 'sibling-revoked-ack'; id: number }
  /** This process's metrics, for the primary to aggregate (prom-client's getMetricsAsJSON). */
  | { kagi: 'metrics-json'; id: number; metrics: unknown[] }

export type PrimaryMessage =
  | { kagi: 'revoked-ack'; id: number }
  | { kagi: 'metrics-text'; id: number; text?: string; error?: string }
  | { kagi: 'sibling-revoked'; id: number; serials: string[] }
  /** Asks a ready process for its metrics (answered with `metrics-json`). */
  | { kagi: 'collect-metrics'; id: number }

export function isKagiMessage<M extends { kagi: string }>(message: unknown): message is M {
  return typeof message === 'object' && message !== null && typeof (message as { kagi?: unknown }).kagi === 'string'
}

/**
 * How long a revocation waits for the other processes to drop their cached
 * answers before it is answered anyway. A process that does not answer in
 * time (busy, or dying) still hears of it through PostgreSQL's NOTIFY, as a
 * replica on another machine does.
 */
export const SIBLING_ACK_TIMEOUT_MS = 2_000
