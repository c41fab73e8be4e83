import type { Platform } from '../../enrollment/bundle-types.js'

/** How each platform is written in a sentence. */
export const platformNames: Record<Platform, string> = { macos: 'macOS', ios: 'iOS', windows: 'Windows', chromeos: 'ChromeOS', android: 'Android' }

/**
 * `word` after "a" or "an", by how it is said: "an iOS", "an rsa-2048"
 * ("ar-es-ay"), "a macOS", "an ecdsa-p256". Covers the words the CLI puts
 * after an article (platform names and key types), not English at large.
 */
export function withArticle(word: string): string {
  return `${/^(?:[aeiou]|rsa|RSA)/i.test(word) ? 'an' : 'a'} ${word}`
}
