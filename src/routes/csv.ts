import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * The one CSV writer of the admin exports: RFC 4180 (CRLF line ends, every
 * field in double quotes, a quote doubled), UTF-8, with a header row.
 *
 * A cell a spreadsheet would take for a formula (it starts with = + - @, a
 * tab or a carriage return, possibly after spaces) gets a leading single
 * quote, so that a device name such as `=HYPERLINK(...)` stays text when an
 * administrator opens the export (OWASP, CSV Injection).
 */

/** One column: its header and how a row gives its value (null and undefined give an empty cell). */
export interface CsvColumn<T> {
  header: string
  value: (row: T) => string | number | boolean | Date | null | undefined
}

const FORMULA_START = /^(?:[\t\r\n]| *[=+\-@])/

/** The text of one cell, neutralised and quoted. */
export function csvCell(value: string | number | boolean | Date | null | undefined): string {
  if (value === null || value === undefined) return '""'
  let text = value instanceof Date ? value.toISOString() : String(value)
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`
  return `"${text.replace(/"/g, '""')}"`
}

/** The whole document: header row, then one row per item, each line ended by CRLF. */
export function toCsv<T>(columns: readonly CsvColumn<T>[], rows: readonly T[]): string {
  const lines = [columns.map((c) => csvCell(c.header)).join(',')]
  for (const row of rows) lines.push(columns.map((c) => csvCell(c.value(row))).join(','))
  return `${lines.join('\r\n')}\r\n`
}

/** True when the client asks for CSV: format=csv, or no format and an Accept header naming text/csv. */
export function wantsCsv(request: FastifyRequest, format: 'json' | 'csv' | undefined): boolean {
  if (format) return format === 'csv'
  const accept = request.headers.accept ?? ''
  return /(^|,)\s*text\/csv\s*(;|,|$)/i.test(accept)
}

/** Sends a CSV download (`name`.csv); exports hold personal data, so nothing caches them. */
export function sendCsv<T>(reply: FastifyReply, name: string, columns: readonly CsvColumn<T>[], rows: readonly T[]): FastifyReply {
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${name}.csv"`)
    .header('cache-control', 'no-store')
    .send(toCsv(columns, rows))
}
