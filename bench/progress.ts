/** A progress line for the person watching the bench (stderr, so stdout keeps only the results). */
export const progress = (line: string): void => void process.stderr.write(`… ${line}\n`)
