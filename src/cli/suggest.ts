/** Inputs longer than this are not compared (the distance table grows with the product of the lengths). */
const MAX_LENGTH = 64

/** Levenshtein distance (insertions, deletions, substitutions), two rows at a time. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    previous = row
  }
  return previous[b.length]!
}

/**
 * The candidates nearest to what was typed, for a "did you mean" hint: those
 * within a third of their length (at least one edit) of the input, the
 * nearest first; a candidate whose last word is the input ("show" → "ca show")
 * counts as near; of equally near ones, those of the most words. Empty when nothing is close.
 */
export function nearest(input: string, candidates: readonly string[]): string[] {
  if (!input || input.length > MAX_LENGTH) return []
  const scored = candidates
    .map((candidate) => {
      const words = candidate.split(' ')
      const typed = input.split(' ').slice(0, words.length).join(' ')
      const distance = words.length > 1 && words.at(-1) === input ? 0 : editDistance(typed, candidate)
      return { candidate, distance }
    })
    .filter((s) => s.distance <= Math.max(1, Math.floor(s.candidate.length / 3)))
  const best = Math.min(...scored.map((s) => s.distance))
  const tied = scored.filter((s) => s.distance === best).map((s) => s.candidate)
  // "tokn create" is as near to `token` as to `token create`; the one that covers more of what was typed wins.
  const words = Math.max(...tied.map((c) => c.split(' ').length))
  return tied.filter((c) => c.split(' ').length === words)
}

/** " (did you mean `a` or `b`?)" for the nearest candidates, or "". */
export function didYouMean(input: string, candidates: readonly string[]): string {
  const near = nearest(input, candidates)
  return near.length ? `; did you mean ${near.map((s) => `\`${s}\``).join(' or ')}?` : ''
}
