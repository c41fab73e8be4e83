import type { FastifyReply } from 'fastify'
import type { Bundle } from '../../enrollment/bundle-types.js'

/**
 * Sends a bundle as a download: its content type, an attachment file name
 * (RFC 6266), never cached. The certificate serial (none for a SCEP
 * profile, whose certificate the device requests later) and, for Android,
 * the one-time PKCS#12 password travel in headers so the body stays the file.
 */
export function sendBundle(reply: FastifyReply, bundle: Bundle, serial?: string): FastifyReply {
  reply
    .code(200)
    .header('content-type', bundle.contentType)
    .header('content-disposition', `attachment; filename="${bundle.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
    .header('cache-control', 'no-store')
  if (serial) reply.header('x-kagi-serial', serial)
  if (bundle.pkcs12Password) reply.header('x-kagi-pkcs12-password', bundle.pkcs12Password)
  return reply.send(bundle.body)
}
