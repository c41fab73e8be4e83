import type { FastifyReply, FastifyRequest } from 'fastify'
import { ApiError, toHttpError } from '../errors.js'
import { newNonce, sendPage, type PageContext } from './html.js'
import { refusalKey } from './employee-messages.js'
import { chooseLang, translate, type Lang } from './i18n.js'
import { errorView, signInFailedView } from './views.js'

/** The cookie the language switch sets. */
export const LANG_COOKIE = 'kagi_lang'

/** The page shell's values for a request: its language (switch, then Accept-Language), a CSP nonce, its path. */
export function pageContext(request: FastifyRequest): PageContext {
  return {
    lang: chooseLang(request.headers['accept-language'], request.cookies?.[LANG_COOKIE]),
    nonce: newNonce(),
    path: request.url.split('?')[0] ?? '/',
  }
}

/** Machine clients get JSON errors: the API, OCSP and SCEP, and anyone who asks for JSON. */
export function wantsJson(request: FastifyRequest): boolean {
  const path = request.url
  // SCEP clients speaking NDES's path (certsrv/mscep/mscep.dll) are machines too; the NDES admin page is HTML.
  if (/^\/(api\/|ocsp(\/|$|\?)|scep(\/|$|\?)|certsrv\/mscep\/mscep\.dll)/.test(path)) return true
  return /\bapplication\/json\b/i.test(request.headers.accept ?? '')
}

/**
 * What a browser is told, in its language. Employees get a sentence of the
 * translation table chosen by the error's code; the admin console keeps the
 * API's own message, which names what an admin can fix.
 */
function pageMessage(request: FastifyRequest, lang: Lang, status: number, error: unknown, apiMessage: string): string {
  if ((error as { code?: string } | undefined)?.code?.startsWith('FST_CSRF')) return translate(lang, 'formExpired')
  if (status === 429) return translate(lang, 'tooMany')
  if (status === 413) return translate(lang, 'tooLarge')
  if (request.url === '/admin' || request.url.startsWith('/admin/') || request.url.startsWith('/admin?')) return apiMessage
  return translate(lang, refusalKey(error))
}

/**
 * Answers a failed request: JSON for machine clients (see {@link wantsJson}),
 * else an HTML page in the browser's language. Never a stack trace; an
 * internal error is logged and described only as such.
 */
export function replyWithError(error: unknown, request: FastifyRequest, reply: FastifyReply, pageText?: (lang: Lang) => string): FastifyReply {
  const { status, body, internal } = toHttpError(error)
  if (internal) request.log.error({ err: error }, 'request failed')
  else request.log.info({ code: body.error.code, status }, 'request refused')
  if (wantsJson(request)) return reply.code(status).header('cache-control', 'no-store').send(body)
  const ctx = pageContext(request)
  const message = pageText?.(ctx.lang) ?? pageMessage(request, ctx.lang, status, error, body.error.message)
  return sendPage(reply, ctx, request.url.startsWith('/auth/') ? signInFailedView(ctx, message) : errorView(ctx, message), status)
}

/** The answer to a request for no route: a JSON error or a page, as for any error. */
export function replyNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return replyWithError(new ApiError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`), request, reply, (lang) => translate(lang, 'notFound'))
}
