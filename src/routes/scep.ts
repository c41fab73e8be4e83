import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { certificatesOnly, ScepMalformed } from '../../ca/scep/index.js'
import { badRequest } from '../errors.js'
import { scepQuery } from '../schemas/scep.js'
import { parseOrBadRequest } from '../schemas/parse.js'
import type { KagiServices } from '../startup/services.js'
import { scepOperation } from '../use-cases/scep-operation.js'

/** A PKCSReq with a 4096-bit key and its certificates is a few KB; this leaves room and no more. */
const MAX_MESSAGE_BYTES = 64 * 1024

/**
 * GetCACaps (RFC 8894 §3.5.2): only what kagi implements. SHA-384 is listed
 * because Debian's strongSwan 5.9 uses AES only when it sees it
 * (strongswan#1607); DES3 and SHA-1 for old clients. Single DES is never
 * advertised, even when KAGI_SCEP_ALLOW_DES accepts it.
 */
const CAPABILITIES = ['POSTPKIOperation', 'SHA-256', 'SHA-512', 'SHA-384', 'SHA-1', 'AES', 'DES3', 'SCEPStandard', 'Renewal'].join('\n')

/** kagi's paths, and NDES's, so that clients configured for NDES need only the host name changed. */
const PATHS = ['/scep', '/scep/pkiclient.exe', '/certsrv/mscep/mscep.dll']

/**
 * SCEP (RFC 8894 §4) at /scep and /scep/pkiclient.exe (the path Cisco-style
 * clients append): GetCACaps, GetCACert (kagi's SCEP certificate first, then
 * the issuing CA and the root, RFC 8894 §4.2.1.2) and PKIOperation by GET
 * (base64 `message`, as certmonger sends it) and POST. A body that is no
 * pkiMessage gets a 400; every pkiMessage gets a signed CertRep.
 */
export async function scepRoutes(app: FastifyInstance, { services }: { services: KagiServices }): Promise<void> {
  // SCEP clients send application/x-pki-message, application/octet-stream or nothing in particular: take every body as bytes.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_MESSAGE_BYTES }, (_request, body, done) => done(null, body))

  const caCertificates = async (): Promise<Buffer> => certificatesOnly([(await services.scepRa.get()).certificate, ...services.chainDer])

  async function pkiOperation(request: FastifyRequest, reply: FastifyReply, message: Buffer): Promise<FastifyReply> {
    const profile = (request.query as { profile?: 'user' | 'device' }).profile
    let answer
    try {
      answer = await scepOperation(services, message, { profile, clientIp: request.ip })
    } catch (error) {
      if (error instanceof ScepMalformed) throw badRequest(error.message, 'scep_malformed')
      throw error
    }
    request.log.info({ status: answer.status, failInfo: answer.failInfo, reason: answer.reason, serial: answer.serial }, 'SCEP PKIOperation')
    services.metrics.scepAnswered(answer.status, answer.failInfo)
    return reply.header('content-type', 'application/x-pki-message').header('cache-control', 'no-store').send(answer.der)
  }

  for (const path of PATHS) {
    app.get(path, async (request, reply) => {
      const query = parseOrBadRequest(scepQuery, request.query, 'query parameter(s)')
      switch (query.operation) {
        case 'GetCACaps':
          return reply.header('content-type', 'text/plain; charset=us-ascii').send(CAPABILITIES)
        case 'GetCACert':
          return reply.header('content-type', 'application/x-x509-ca-ra-cert').send(await caCertificates())
        case 'PKIOperation': {
          // A query parser turns an unencoded "+" into a space; base64 has no spaces, so they were "+".
          const text = (query.message ?? '').replace(/ /g, '+')
          if (!/^[A-Za-z0-9+/=\r\n_-]+$/.test(text)) throw badRequest('message must be the base64 pkiMessage', 'scep_malformed')
          return pkiOperation(request, reply, Buffer.from(text, 'base64'))
        }
        default:
          throw badRequest(`operation ${query.operation} is not supported (GetCACaps, GetCACert, PKIOperation)`, 'scep_unsupported_operation')
      }
    })
    app.post(path, { bodyLimit: MAX_MESSAGE_BYTES }, async (request, reply) => {
      const query = parseOrBadRequest(scepQuery, request.query, 'query parameter(s)')
      if (query.operation !== 'PKIOperation') throw badRequest('POST is for operation=PKIOperation only', 'scep_unsupported_operation')
      if (!Buffer.isBuffer(request.body) || request.body.length === 0) throw badRequest('the body must be the DER pkiMessage', 'scep_malformed')
      return pkiOperation(request, reply, request.body)
    })
  }
}
