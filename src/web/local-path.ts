const ORIGIN = 'http://kagi.invalid'

/**
 * A redirect target that stays inside kagi: the path and query of `target`
 * resolved against kagi's own origin, or `/`. Resolving the way browsers do
 * (the WHATWG URL parser drops tabs and newlines, reads `\` as `/`) catches
 * `/%09/evil.example`, which a prefix check lets through and a browser turns
 * into `//evil.example`. The result is percent-encoded, so it is also safe
 * as a Location header.
 */
export function localPath(target: string | undefined): string {
  if (!target || !target.startsWith('/')) return '/'
  let url: URL
  try {
    url = new URL(target, ORIGIN)
  } catch {
    return '/'
  }
  if (url.origin !== ORIGIN || url.pathname.startsWith('//')) return '/'
  return url.pathname + url.search
}
