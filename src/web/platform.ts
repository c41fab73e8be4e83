import type { Platform } from '../db/database.js'

/**
 * Guesses the platform from the User-Agent. Order matters: ChromeOS and
 * Android browsers also say "Linux", iPadOS Safari says "Macintosh" (a
 * script on the page corrects that from touch support).
 */
export function detectPlatform(userAgent: string | undefined): Platform | undefined {
  const ua = userAgent ?? ''
  if (/\bCrOS\b/.test(ua)) return 'chromeos'
  if (/\b(iPhone|iPad|iPod)\b/.test(ua)) return 'ios'
  if (/\bAndroid\b/.test(ua)) return 'android'
  if (/\bWindows\b/.test(ua)) return 'windows'
  if (/\bMacintosh\b|\bMac OS X\b/.test(ua)) return 'macos'
  return undefined
}

/** Names shown for each platform. */
export const platformNames: Record<Platform, string> = {
  macos: 'macOS',
  ios: 'iOS / iPadOS',
  windows: 'Windows',
  chromeos: 'ChromeOS',
  android: 'Android',
}

/**
 * Platforms whose page offers a machine certificate (and so a host name):
 * computers that can sign in to GlobalProtect before a user logs on. Phones,
 * tablets and Chromebooks only ever get a user certificate.
 */
const computerPlatforms: readonly Platform[] = ['macos', 'windows']

/** The platforms the page offers machine certificates for: the computers, or none when an admin turned them off (KAGI_PAGE_MACHINE_CERTIFICATES=false). */
export const machinePlatforms = (enabled: boolean): readonly Platform[] => (enabled ? computerPlatforms : [])

export const offersMachineCertificate = (platform: Platform | undefined, offered: readonly Platform[]): boolean => platform !== undefined && offered.includes(platform)
