import { renameSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { join } from 'node:path'

/**
 * bench/results.json: every figure of a run beside its peer from the same
 * run, for the README's table (issue 15: the table shows the latest run, with
 * its date). The printed lines stay the human output; each phase records
 * its figures here as it prints them, and the file is rewritten after every
 * phase, so that an interrupted run keeps what it measured.
 */

export type Better = 'higher' | 'lower'

/** One of issue 15's targets, as the file shows it (`text`) and as the bench checks it. */
export interface Target {
  /** e.g. '>= 1.5x', '< 20 ms'. */
  text: string
  /** What is compared: kagi's figure itself, or kagi/peer. */
  on: 'kagi' | 'ratio'
  op: '>=' | '<=' | '<'
  value: number
}

export interface Figure {
  /** Stable kebab-case, e.g. 'ocsp-fresh'; a smaller case than the gets a suffix ('-10k'). */
  id: string
  /** One line: what was measured, how. */
  what: string
  kagi: number | null
  peer: number | null
  peerName: string | null
  unit: string
  /** Which way is better for kagi and its ratio: 'higher' for rates, 'lower' for times and sizes. */
  better: Better
  /** kagi / peer. */
  ratio: number | null
  target: string | null
  /** Whether the target was met; null without a target, or when this run measured a smaller case than the target is for. */
  met: boolean | null
}

export interface Results {
  /** When the run started. */
  date: string
  quick: boolean
  database: 'postgresql' | 'pglite'
  machine: {
    cpus: number
    /** os.loadavg() (1, 5 and 15 minutes) when the run started and when this file was written. */
    loadAverageStart: number[]
    loadAverageEnd: number[]
    node: string
  }
  /** False while the run is still going (or when it was interrupted). */
  complete: boolean
  /** Wall time from the start of the run to this file's writing. */
  elapsedSeconds: number
  figures: Figure[]
}

export interface FigureInput {
  id: string
  what: string
  kagi: number
  unit: string
  better: Better
  peer?: { name: string; value: number }
  target?: Target
  /** False when this run measured a smaller case than the target is for (--quick's 10,000 revoked, a shorter morning): met is null. */
  targetApplies?: boolean
  /** Overrides the comparison, for a figure that is a bound rather than a value (a start that never became ready). */
  met?: boolean
}

export const RESULTS_FILE = join(import.meta.dirname, 'results.json')

const run = { started: new Date(), t0: performance.now(), quick: false, database: 'pglite' as Results['database'], loadAverageStart: loadavg() }
const figures: Figure[] = []

/** Starts the record of a run: called once, before its first phase. */
export function startResults(options: { quick: boolean; database: Results['database'] }): void {
  run.started = new Date()
  run.t0 = performance.now()
  run.quick = options.quick
  run.database = options.database
  run.loadAverageStart = loadavg()
  figures.length = 0
}

/** Non-finite values (a failed measurement, a ratio over 0) have no JSON number: null. Four significant digits are more than these machines resolve. */
function tidy(value: number | undefined): number | null {
  if (value === undefined || !Number.isFinite(value)) return null
  return Math.abs(value) >= 10_000 ? Math.round(value) : Number(value.toPrecision(4))
}

export function meets(target: Target, value: number): boolean {
  if (target.op === '>=') return value >= target.value
  if (target.op === '<=') return value <= target.value
  return value < target.value
}

/** Builds a figure from what a phase measured: the ratio and whether the target was met. */
export function figure(input: FigureInput): Figure {
  const peer = input.peer?.value
  const ratio = peer !== undefined && peer !== 0 ? input.kagi / peer : undefined
  const compared = input.target?.on === 'ratio' ? ratio : input.kagi
  let met: boolean | null = null
  if (input.target && input.targetApplies !== false) {
    met = input.met ?? (compared !== undefined && Number.isFinite(compared) ? meets(input.target, compared) : null)
  }
  return {
    id: input.id,
    what: input.what,
    kagi: tidy(input.kagi),
    peer: tidy(peer),
    peerName: input.peer?.name ?? null,
    unit: input.unit,
    better: input.better,
    ratio: tidy(ratio),
    target: input.target?.text ?? null,
    met,
  }
}

/** Records a figure of this run (one with the same id replaces it). */
export function record(input: FigureInput): void {
  const made = figure(input)
  const at = figures.findIndex((f) => f.id === made.id)
  if (at >= 0) figures[at] = made
  else figures.push(made)
}

export function results(complete: boolean): Results {
  const round = (values: number[]) => values.map((v) => Number(v.toFixed(2)))
  return {
    date: run.started.toISOString(),
    quick: run.quick,
    database: run.database,
    machine: { cpus: availableParallelism(), loadAverageStart: round(run.loadAverageStart), loadAverageEnd: round(loadavg()), node: process.version },
    complete,
    elapsedSeconds: Math.round((performance.now() - run.t0) / 1000),
    figures: [...figures],
  }
}

/** Writes the file whole: to a temporary file, then renamed over it, so that a reader (or an interruption) never sees half of it. */
export function writeResults(complete = false, file = RESULTS_FILE): void {
  const temporary = `${file}.${process.pid}.tmp`
  writeFileSync(temporary, `${JSON.stringify(results(complete), null, 2)}\n`)
  renameSync(temporary, file)
}
