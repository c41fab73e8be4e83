import type { FastifyInstance } from 'fastify'
import { ApiError } from '../errors.js'
import { createNdesChallenge } from '../use-cases/scep-challenges.js'
import type { RouteOptions } from './route-options.js'

/** The minutes NDES states on its page; kagi states its own KAGI_SCEP_CHALLENGE_TTL. */
const minutes = (ms: number): number => Math.round(ms / 60_000)

/**
 * The page NDES serves at mscep_admin: UTF-16LE with a byte-order mark, as
 * Windows does, since clients decode it as UTF-16 (Fleet, the scripts MDM
 * vendors publish) and find the challenge with the regular expression
 * `The enrollment challenge password is: <B> (\S*)`.
 */
function ndesPage(challenge: string, ttlMs: number): Buffer {
  const html =
    '<HTML><Head><Meta HTTP-Equiv="Content-Type" Content="text/html; charset=UTF-16"><Title>Network Device Enrollment Service</Title></Head>\r\n' +
    '<Body BgColor=#FFFFFF><Font ID=locPageFont Face="Arial">\r\n' +
    '<P> Network Device Enrollment Service (kagi) allows you to obtain certificates for devices running SCEP.\r\n' +
    `<P> The enrollment challenge password is: <B> ${challenge} </B><P> This password can be used only once and will expire within ${minutes(ttlMs)} minutes.\r\n` +
    '<P> Each enrollment requires a new challenge password. You can refresh your web browser to get a new challenge password.\r\n' +
    '</Font></Body></HTML>'
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(html, 'utf16le')])
}

/**
 * GET /certsrv/mscep_admin/: the NDES one-time challenge page, for the
 * GlobalProtect portal's dynamic SCEP challenge, Jamf Pro's
 * "Dynamic-Microsoft CA" and Fleet's NDES CA. HTTP Basic with an mdm or
 * admin token as the password (the user name is ignored); NTLM, which NDES
 * also speaks, is not offered. The challenge is bound to the token; the
 * CSR's names must then find a known user or device (scep-identity.ts).
 */
export async function certsrvRoutes(app: FastifyInstance, { services, requireToken }: RouteOptions): Promise<void> {
  const requireMdm = requireToken('mdm', 'admin')
  for (const path of ['/certsrv/mscep_admin', '/certsrv/mscep_admin/']) {
    app.get(path, async (request, reply) => {
      try {
        await requireMdm(request)
      } catch (error) {
        // Clients send credentials after a challenge (RFC 7617 §2).
        if (error instanceof ApiError && error.code === 'unauthorized') reply.header('www-authenticate', 'Basic realm="kagi NDES", charset="UTF-8"')
        throw error
      }
      const principal = request.principal!
      const issued = await createNdesChallenge(services, { tokenId: principal.id, label: `token:${principal.name}`, clientIp: request.ip })
      return reply.header('content-type', 'text/html; charset=utf-16').header('cache-control', 'no-store').send(ndesPage(issued.challenge, services.config.scep.challengeTtlMs))
    })
  }
}
