/** CLI output: results on stdout, progress and warnings on stderr (so scripts can pipe stdout). */
export const out = (line = ''): void => void process.stdout.write(`${line}\n`)
export const info = (line: string): void => void process.stderr.write(`${line}\n`)
export const warn = (line: string): void => void process.stderr.write(`warning: ${line}\n`)

/** A usage mistake: printed with the command's help, exit code 2. */
export class UsageError extends Error {}
