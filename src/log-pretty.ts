import type { DestinationStream } from 'pino'

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }
/** Fields every line has, shown by position (or not at all) rather than as key=value. */
const OMITTED = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'err'])

function fieldValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)
  return JSON.stringify(value) ?? String(value)
}

/**
 * One pino JSON line as a person reads it on a terminal:
 * `16:40:02 WARN  request method=GET url=/x status=500 ms=3`, an error's
 * stack on the lines below. Lines that are not JSON pass through unchanged.
 */
export function formatLine(line: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(line) as Record<string, unknown>
  } catch {
    return `${line}\n`
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 19) : ''
  const level = (LEVELS[entry.level as number] ?? String(entry.level)).padEnd(5)
  const fields = Object.entries(entry)
    .filter(([key, value]) => !OMITTED.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${fieldValue(value)}`)
  const err = entry.err as { message?: string; stack?: string } | undefined
  const text = [time, level, entry.msg ?? '', ...fields].filter((part) => part !== '').join(' ')
  const detail = err ? `\n    ${(err.stack ?? err.message ?? '').replace(/\n/g, '\n    ')}` : ''
  return `${text}${detail}\n`
}

/** A pino destination that writes {@link formatLine}'s lines to `out`. */
export function prettyLines(out: DestinationStream): DestinationStream {
  return { write: (line: string) => out.write(formatLine(line.replace(/\n$/, ''))) }
}
