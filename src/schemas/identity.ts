import { isIP } from 'node:net'
import { z } from 'zod'
import { isCertificateEmail, isHostname } from '../../ca/index.js'
import { platforms } from '../../enrollment/bundle-types.js'
import { enrollmentProfiles } from '../../profiles/index.js'
import { safeText } from './text.js'

/**
 * The fields that name a person or a device, one schema each, used by the
 * API bodies and queries, the page's forms and the CLI's flags.
 */

/** An employee email: ASCII (rfc822Name is an IA5String, RFC 5280 §4.2.1.6), stored lowercased. */
export const emailField = (field: string) =>
  safeText(field, { max: 254, min: 3 })
    .refine(isCertificateEmail, { message: `${field} must be an ASCII email address such as alice@example.com` })
    .describe('An ASCII email address such as alice@example.com (3 to 254 characters), lowercased')
    .transform((value) => value.toLowerCase())

/**
 * A device host name for a machine certificate's CN and dNSName: RFC 1123
 * labels, lowercased, never an IP address (RFC 5280 §4.2.1.6) or a wildcard.
 * Which domains are allowed is policy (KAGI_DEVICE_HOSTNAME_SUFFIXES), checked
 * by the enrollment use case.
 */
export const hostnameField = (field: string) =>
  safeText(field, { max: 253 })
    .superRefine((value, ctx) => {
      if (isIP(value) || isIP(value.replace(/^\[|\]$/g, ''))) {
        ctx.addIssue({ code: 'custom', message: `${field} is an IP address; a device certificate names a DNS host name such as pc-1.corp.example.com` })
      } else if (!isHostname(value)) {
        ctx.addIssue({ code: 'custom', message: `${field} must be a DNS host name such as pc-1.corp.example.com (letters, digits, hyphens and dots; no wildcard)` })
      }
    })
    .describe('A DNS host name such as pc-1.corp.example.com (at most 253 characters; no IP address or wildcard), lowercased; inside KAGI_DEVICE_HOSTNAME_SUFFIXES when that is set')
    .transform((value) => value.toLowerCase())

/** What the owner calls the device ("Alice's MacBook Pro", 山田のMacBook). */
export const deviceNameField = (field: string) => safeText(field, { max: 128 }).describe("What the owner calls the device, e.g. Alice's MacBook Pro (at most 128 characters)")

/** A hardware serial number (or, where the API says so, kagi's device id): printable ASCII without spaces. */
export const serialNumberField = (field: string) =>
  safeText(field, { max: 128 })
    .refine((value) => /^[\x21-\x7e]+$/.test(value), { message: `${field} must be printable ASCII without spaces` })
    .describe('A hardware serial number: printable ASCII without spaces, at most 128 characters')

export const platformField = (field: string) => z.enum(platforms, { error: `${field} must be one of ${platforms.join(', ')}` })

export const profileField = (field: string) =>
  z.enum(enrollmentProfiles, { error: `${field} must be ${enrollmentProfiles.join(' or ')}` }).describe("The certificate profile: user (the person's certificate) or device (a machine certificate naming the host name)")
