import type { FastifyInstance } from 'fastify'
import { openApiDocument } from '../openapi/document.js'
import { docsContent, docsPage } from '../openapi/docs-view.js'
import type { KagiServices } from '../startup/services.js'
import { pageContext } from '../web/error-page.js'
import { sendPage, type Html } from '../web/html.js'

/**
 * GET /docs: the API reference as a page served by kagi itself, rendered on
 * the server from the same document as /openapi.json (no script, nothing
 * from another origin, the pages' CSP). The reference is rendered once per
 * app, on the first request (not during start-up, see routes/openapi.ts);
 * each answer only wraps it in the page shell with a fresh nonce.
 */
export async function docsRoutes(app: FastifyInstance, { services }: { services: Pick<KagiServices, 'config'> }): Promise<void> {
  let content: Html | undefined
  app.get('/docs', async (request, reply) => {
    content ??= docsContent(openApiDocument(services.config))
    const ctx = pageContext(request)
    return sendPage(reply, ctx, docsPage(ctx, content))
  })
}
