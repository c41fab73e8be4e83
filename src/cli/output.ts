import { currentInvocation } from './invocation.js'

/** Writes to this process's stream, or back to the client of a forwarded command. */
function write(stream: 'out' | 'err', text: string): void {
  const invocation = currentInvocation()
  if (invocation) invocation.write(stream, text)
  else (stream === 'out' ? process.stdout : process.stderr).write(text)
}

/** CLI output: results on stdout, progress and warnings on stderr (so scripts can pipe stdout). */
export const out = (line = ''): void => write('out', `${line}\n`)
export const info = (line: string): void => write('err', `${line}\n`)
export const warn = (line: string): void => write('err', `warning: ${line}\n`)

/** A usage mistake: printed with the command's help, exit code 2. */
export class UsageError extends Error {}
