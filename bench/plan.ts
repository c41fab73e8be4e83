import { availableParallelism } from 'node:os'
/**
 * How long and how big each phase of the bench is: the full run (`npm run
 * bench`, ~40 minutes) and the quick check (`npm run bench -- --quick`, or
 * BENCH_QUICK=1; issue 15's "1-minute version"), side by side. The quick run
 * goes through every phase with shorter loads and smaller data; its figures
 * are for spotting a regression, and those measured on a smaller case than a
 * target is for (10,000 revoked instead of 100,000, a shorter morning) get no
 * verdict (bench/results.ts). Most of its time is fixed: `kagi` processes
 * starting (first start, `ca init`, restart, the morning's servers), and the
 * morning's idle time, which must outlast the key pool's 10 s start delay.
 *
 * The environment overrides some of it in both modes: BENCH_SECONDS,
 * BENCH_MORNING_IDLE_S, BENCH_MORNING_COUNT, BENCH_MORNING_RATE.
 */
export const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1'

/** A number from the environment, else the full or the quick default. */
function setting(name: string, full: number, short: number): number {
  const value = process.env[name]
  return value !== undefined && value !== '' ? Number(value) : quick ? short : full
}

/** Seconds of each load phase (issuance, server-side keys, OCSP runs, SCEP). */
const seconds = setting('BENCH_SECONDS', 8, 2)
const morningIdleS = setting('BENCH_MORNING_IDLE_S', 120, 14)

export const plan = {
  quick,
  seconds,
  /** `openssl speed -seconds N` for the issuance peer. */
  opensslSpeedSeconds: quick ? 1 : 3,
  /** The server-side keys' peers (openssl genpkey runs, bare keygen on all cores). */
  keygenSeconds: quick ? Math.min(seconds, 1) : Math.min(seconds, 5),
  /** Revoked certificates in the CRL and revocation phases (the figures at 10,000 are measured in both modes). */
  revoked: quick ? 10_000 : 100_000,
  /**
   * `kagi serve` processes (KAGI_WORKERS) for the issuance and OCSP figures measured again with that many
   * processes: PostgreSQL only; BENCH_WORKERS, default one per CPU, 1 skips them.
   */
  workers: Number(process.env.BENCH_WORKERS || availableParallelism()),
  ocsp: {
    seconds: quick ? Math.min(seconds, 1) : seconds,
    /** Rounds of the alternating OCSP runs, the best of them kept: one only in the quick run (time), so noise is not averaged out there. */
    rounds: quick ? 1 : 2,
  },
  scep: {
    seconds,
    /** RSA-2048 requesters, shared round-robin by the requests. */
    requesters: quick ? 4 : 8,
    /** Requests prepared for scepserver, per second of its run: it takes ~150/s here; each costs ~8 ms to make (it stops early when they run out). */
    peerPerSecond: quick ? 200 : 700,
  },
  admin: {
    /** Share of issue 12's 10,000 users, 20,000 devices and 100,000 certificates seeded. */
    scale: quick ? 0.1 : 1,
    /** Wall time per query's timed runs (at least 5 runs). */
    secondsPerQuery: quick ? 0.25 : seconds,
  },
  morning: {
    /** With the pool: it starts filling 10 s after start-up, so a quick idle of 14 s leaves it ~4 s. */
    idleS: morningIdleS,
    /** KAGI_KEY_POOL_SIZE=0 has nothing to do in idle time, so the quick run gives it 1 s instead of the pool's idle. */
    peerIdleS: quick ? Math.min(1, morningIdleS) : morningIdleS,
    count: setting('BENCH_MORNING_COUNT', 800, 15),
    rate: setting('BENCH_MORNING_RATE', 3, 3),
  },
}
