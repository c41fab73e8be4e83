import { readFileSync } from 'node:fs'
import { RESULTS_FILE, type Figure, type Results } from './results.js'

/**
 * Prints bench/results.json (or the files named) as the README's Markdown
 * table: one row per figure with a target, kagi beside its peer, the ratio,
 * the target and whether it was met, headed by the run's date, database and
 * load. usage: node bin/run-ts.js bench/results-table.ts [results.json ...]
 */
const files = process.argv.slice(2)
const number = (value: number | null): string => (value === null ? '—' : value.toLocaleString('en-US', { maximumSignificantDigits: 4 }))
const verdict = (figure: Figure): string => (figure.met === null ? '—' : figure.met ? 'met' : '**missed**')

for (const file of files.length ? files : [RESULTS_FILE]) {
  const run = JSON.parse(readFileSync(file, 'utf8')) as Results
  const load = `load average ${run.machine.loadAverageStart[0]} at the start, ${run.machine.loadAverageEnd[0]} at the end`
  process.stdout.write(`\n${run.database === 'postgresql' ? 'PostgreSQL' : 'PGlite'}, ${run.date.slice(0, 10)}${run.quick ? ' (quick run)' : ''}, ${run.machine.cpus} cores, ${load}${run.complete ? '' : ', incomplete'}:\n\n`)
  process.stdout.write('| figure | kagi | peer in the same run | ratio | target | |\n| --- | --- | --- | --- | --- | --- |\n')
  for (const figure of run.figures.filter((f) => f.target !== null)) {
    const peer = figure.peer === null ? '—' : `${number(figure.peer)} (${figure.peerName})`
    process.stdout.write(`| ${figure.what} | ${number(figure.kagi)} ${figure.unit} | ${peer} | ${number(figure.ratio)} | ${figure.target} | ${verdict(figure)} |\n`)
  }
}
