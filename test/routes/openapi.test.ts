import 'reflect-metadata'
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import type { z } from 'zod'
import { buildOpenApiDocument, openApiDocument, type JsonSchema, type OpenApiDocument } from '../../src/openapi/document.js'
import { exampleUrl } from '../../src/openapi/curl.js'
import { operations, routePattern } from '../../src/openapi/operations.js'
import { build } from '../helper.js'
import { opensslCsr, tempDir } from '../support/openssl.js'

// The OpenAPI document: valid OpenAPI 3.1 whose schemas are valid JSON Schema (draft 2020-12);
// the same operations as the routes kagi registers; a body schema that refuses what the route
// refuses for the same fields; and answer schemas that real answers fit.

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020

/** The prefixes whose routes the catalogue must list (the browser's pages and SAML are not the API). */
const API_PREFIXES = ['/api/v1/', '/pki/', '/ocsp', '/scep', '/certsrv/', '/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']

/**
 * Every `METHOD path` the app registers, read from Fastify's radix-tree
 * print (each node's label continues its parent's path). HEAD is left
 * out: Fastify adds it for every GET.
 */
function registeredRoutes(app: FastifyInstance): Set<string> {
  const routes = new Set<string>()
  const stack: string[] = []
  for (const line of app.printRoutes().split('\n')) {
    const match = /^((?:[│ ] {3})*)[└├]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (!match) continue
    const depth = match[1]!.length / 4
    stack.length = depth
    stack.push(match[2]!)
    const path = stack.join('')
    for (const method of match[3]?.split(', ') ?? []) if (method !== 'HEAD') routes.add(`${method} ${path}`)
  }
  return routes
}

/** A media type without its parameters, lowercased. */
const mediaType = (type: string): string => type.split(';')[0]!.trim().toLowerCase()

const underApi = (route: string): boolean => API_PREFIXES.some((prefix) => route.split(' ')[1]!.startsWith(prefix))

/** Ajv for draft 2020-12, strict, with formats: a schema it cannot compile is not valid JSON Schema. */
function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true })
  addFormats(ajv)
  // OpenAPI 3.1's own keywords inside schemas (none is written today, but they are legal there).
  ajv.addKeyword('example')
  return ajv
}

/** Every JSON Schema in the document, with where it is. */
function schemasOf(document: OpenApiDocument): [string, JsonSchema][] {
  const found: [string, JsonSchema][] = Object.entries(document.components.schemas).map(([name, s]) => [`components.schemas.${name}`, s])
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`
      for (const p of op.parameters ?? []) found.push([`${where} parameter ${p.name}`, p.schema])
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) if (media.schema) found.push([`${where} body ${type}`, media.schema])
      for (const [status, response] of Object.entries(op.responses)) {
        for (const [type, media] of Object.entries(response.content ?? {})) if (media.schema && !media.schema.$ref) found.push([`${where} ${status} ${type}`, media.schema])
      }
    }
  }
  return found
}

t.test('GET /openapi.json: OpenAPI 3.1, valid, built once per app', async (t) => {
  const { app, services } = await build(t)
  const res = await app.inject({ url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  const document = res.json() as OpenApiDocument
  t.match(document.openapi, /^3\.1\.\d+$/)
  t.ok(document.paths['/api/v1/certificates'], 'the contract smoke test looks for /api/v1/certificates')
  t.same(document.servers, [{ url: 'http://kagi.test' }], 'the server is KAGI_PUBLIC_URL')

  const validator = new Validator()
  const result = await validator.validate(document as unknown as Record<string, unknown>)
  t.same(result.errors ?? [], [], 'the OpenAPI 3.1 schema accepts the document')
  t.equal(result.valid, true)
  t.equal(validator.version, '3.1')

  const ajv = newAjv()
  const refused = schemasOf(document).flatMap(([where, schema]) => {
    try {
      ajv.compile(schema)
      return []
    } catch (error) {
      return [`${where}: ${(error as Error).message}`]
    }
  })
  t.same(refused, [], 'every schema compiles as JSON Schema draft 2020-12 (strict)')

  const again = await app.inject({ url: '/openapi.json' })
  t.equal(again.body, res.body)
  t.equal(openApiDocument(services.config), openApiDocument(services.config), 'one document per app')

  await t.test('fail/the validator notices a broken document', async (t) => {
    // A parameter must say where it goes (OpenAPI 3.1 §4.8.12.1).
    const broken = structuredClone(document) as unknown as { paths: Record<string, Record<string, { parameters?: unknown[] }>> }
    broken.paths['/healthz']!.get!.parameters = [{ name: 'verbose', schema: { type: 'string' } }]
    t.equal((await new Validator().validate(broken as unknown as Record<string, unknown>)).valid, false)
  })
})

t.test('the catalogue lists every API route the app registers, and nothing else', async (t) => {
  const { app } = await build(t)
  const registered = registeredRoutes(app)
  t.ok(registered.has('GET /healthz') && registered.has('POST /api/v1/certificates') && registered.has('GET /ocsp/*'), 'the route print was read')
  for (const route of registered) {
    const [method, url] = route.split(' ') as [string, string]
    if (!app.hasRoute({ method, url })) t.fail(`read a route that Fastify does not have: ${route}`)
  }
  const api = [...registered].filter(underApi).sort()
  const catalogued = operations.map((op) => `${op.method} ${routePattern(op)}`).sort()
  t.same(
    api.filter((route) => !catalogued.includes(route)),
    [],
    'every registered API route is in src/openapi/operations.ts',
  )
  t.same(
    catalogued.filter((route) => !api.includes(route)),
    [],
    'every catalogue entry is a registered route',
  )
  t.equal(new Set(catalogued).size, catalogued.length, 'no operation twice')
  t.equal(new Set(operations.map((op) => op.id)).size, operations.length, 'operationIds are unique')
})

t.test('the catalogue is consistent: path parameters, examples that pass their own schemas', async (t) => {
  for (const op of operations) {
    const inPath = [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1])
    t.same(Object.keys(op.params ?? {}), inPath, `${op.id}: params are the path's, in order`)
    const check = (what: string, schema: z.ZodType | undefined, value: unknown) => {
      if (value === undefined || !schema) return
      const parsed = schema.safeParse(value)
      t.ok(parsed.success, `${op.id}: the example ${what} passes its schema${parsed.success ? '' : `: ${parsed.error.issues[0]?.message}`}`)
    }
    for (const [name, value] of Object.entries(op.example?.params ?? {})) check(`path parameter ${name}`, op.params?.[name], value)
    check('query', op.query, op.example?.query ?? (op.query ? {} : undefined))
    const json = op.body?.content['application/json']
    check('body', typeof json === 'object' ? json : undefined, op.example?.body)
    if (op.example?.query) t.ok(op.query, `${op.id}: an example query needs a query schema`)
  }
  const document = buildOpenApiDocument({ publicUrl: 'https://kagi.example.com/' })
  t.same(document.servers, [{ url: 'https://kagi.example.com' }], 'a trailing slash is dropped')
  const sample = document.paths['/api/v1/certificates']!.post!['x-codeSamples']![0]!.source
  t.match(sample, /^curl -sS \\\n {2}-H "Authorization: Bearer \$KAGI_TOKEN" \\\n/)
  t.match(sample, /https:\/\/kagi\.example\.com\/api\/v1\/certificates$/)
})

t.test('POST /api/v1/certificates: the document refuses what the route refuses, and accepts what it accepts', async (t) => {
  const { app, as } = await build(t)
  const dir = tempDir(t)
  const csr = opensslCsr(dir.dir, 'ec:P-256', '/CN=ignored.example')
  const document = (await app.inject({ url: '/openapi.json' })).json() as OpenApiDocument
  const schema = document.paths['/api/v1/certificates']!.post!.requestBody!.content['application/json']!.schema!
  const validate = newAjv().compile(schema)
  const post = (payload: unknown) => app.inject({ method: 'POST', url: '/api/v1/certificates', headers: as.admin, payload: payload as Record<string, unknown> })

  t.same(schema.required, ['profile', 'user'], 'the required fields, as zod has them')
  const minimal = { profile: 'user', user: 'alice@example.com', csr }
  for (const field of schema.required as string[]) {
    const { [field]: _left, ...body } = minimal as Record<string, unknown>
    t.notOk(validate(body), `without ${field} the document refuses`)
    t.match(JSON.stringify(validate.errors), new RegExp(`"missingProperty":"${field}"`))
    const res = await post(body)
    t.equal(res.statusCode, 400, `without ${field} the route refuses`)
    t.match(res.json().error, { code: 'invalid_request', message: new RegExp(`\\b${field}\\b`) }, 'naming the same field')
  }

  const refused: [string, Record<string, unknown>][] = [
    ['fail/unknown-field', { ...minimal, color: 'red' }],
    ['fail/profile-not-in-enum', { ...minimal, profile: 'server' }],
    ['fail/signed-not-boolean', { profile: 'user', user: 'alice@example.com', signed: 'yes' }],
    ['fail/keyType-not-in-enum', { profile: 'user', user: 'alice@example.com', keyType: 'dsa-1024' }],
    ['fail/device-without-platform', { ...minimal, device: { name: 'Alice Mac' } }],
    ['fail/device-unknown-field', { ...minimal, device: { name: 'Alice Mac', platform: 'macos', colour: 'red' } }],
    ['fail/csr-too-long', { ...minimal, csr: 'x'.repeat(65_537) }],
    ['fail/user-not-text', { ...minimal, user: 42 }],
  ]
  for (const [name, body] of refused) {
    t.notOk(validate(body), `${name}: the document refuses`)
    const res = await post(body)
    t.equal(res.statusCode, 400, `${name}: the route refuses too (${res.body})`)
  }

  // Accepted by the route, so the document must accept it (the document cannot state every rule,
  // e.g. that user is an email address; what it refuses, the route refuses).
  const accepted: [string, Record<string, unknown>][] = [
    ['ok/minimal-with-csr', minimal],
    ['ok/defaults-taken', { profile: 'user', user: 'bob@example.com', keyType: 'ecdsa-p256' }],
    ['ok/catalogue-example', operations.find((op) => op.id === 'issueCertificate')!.example!.body as Record<string, unknown>],
  ]
  for (const [name, body] of accepted) {
    const res = await post(body)
    t.equal(res.statusCode, 201, `${name}: the route accepts (${res.body.slice(0, 200)})`)
    t.ok(validate(body), `${name}: the document accepts${validate.errors ? ` (${JSON.stringify(validate.errors)})` : ''}`)
  }
  const notEmail = { ...minimal, user: 'not an email' }
  t.ok(validate(notEmail), 'the document cannot state that user is an email address…')
  t.equal((await post(notEmail)).statusCode, 400, '…the route refuses it')
})

t.test('answers fit the schemas the document gives for them', async (t) => {
  const { app, as } = await build(t)
  const dir = tempDir(t)
  const document = (await app.inject({ url: '/openapi.json' })).json() as OpenApiDocument
  const ajv = newAjv()
  ajv.addSchema(document.components.schemas.Error!, 'error')
  const checked = new Set<string>()

  async function expect(method: 'GET' | 'POST', path: string, url: string, status: number, payload?: Record<string, unknown>, headers = as.admin) {
    const res = await app.inject({ method, url, headers, ...(payload ? { payload } : {}) })
    t.equal(res.statusCode, status, `${method} ${url} answers ${status} (${res.body.slice(0, 200)})`)
    const media = document.paths[path]?.[method.toLowerCase()]?.responses[String(status)]?.content?.['application/json']
    if (!media?.schema) {
      t.fail(`the document gives no JSON schema for ${status} of ${method} ${path}`)
      return res.json()
    }
    const validate = media.schema.$ref ? ajv.getSchema('error')! : ajv.compile(media.schema)
    t.ok(validate(res.json()), `${method} ${path} ${status} fits its schema${validate.errors ? `: ${JSON.stringify(validate.errors)}` : ''}`)
    checked.add(`${method} ${path}`)
    return res.json()
  }

  const csr = opensslCsr(dir.dir, 'ec:P-256')
  const device = { name: 'Alice Mac', platform: 'macos', serialNumber: 'C02TEST0001' }
  const issued = await expect('POST', '/api/v1/certificates', '/api/v1/certificates', 201, { profile: 'user', user: 'alice@example.com', device, csr })
  await expect('POST', '/api/v1/certificates', '/api/v1/certificates', 201, { profile: 'user', user: 'bob@example.com', keyType: 'ecdsa-p256' })
  await expect('POST', '/api/v1/certificates', '/api/v1/certificates', 201, { profile: 'user', user: 'carol@example.com', device: { name: 'Carol Mac', platform: 'macos' }, bundle: 'macos', signed: false })
  await expect('GET', '/api/v1/certificates', '/api/v1/certificates?user=alice@example.com', 200)
  await expect('GET', '/api/v1/certificates/{serial}', `/api/v1/certificates/${issued.serial}`, 200)
  await expect('GET', '/api/v1/certificates/{serial}', '/api/v1/certificates/xyz', 400)
  await expect('GET', '/api/v1/users', '/api/v1/users?q=alice', 200)
  await expect('GET', '/api/v1/users/{email}', '/api/v1/users/alice%40example.com', 200)
  const devices = await expect('GET', '/api/v1/devices', '/api/v1/devices?user=alice@example.com', 200)
  await expect('GET', '/api/v1/devices/{id}', `/api/v1/devices/${devices.devices[0].id}`, 200)
  await expect('GET', '/api/v1/audit', '/api/v1/audit?limit=5', 200)
  await expect('POST', '/api/v1/scep/challenges', '/api/v1/scep/challenges', 201, { user: 'alice@example.com', profile: 'user' }, as.mdm)
  await expect('POST', '/api/v1/certificates/{serial}/revoke', `/api/v1/certificates/${issued.serial}/revoke`, 200, { reason: 'keyCompromise' })
  await expect('POST', '/api/v1/devices/{id}/revoke', `/api/v1/devices/${devices.devices[0].id}/revoke`, 200, {})
  await expect('POST', '/api/v1/users/{email}/revoke', '/api/v1/users/bob%40example.com/revoke', 200, {})
  await expect('GET', '/api/v1/devices/{id}', '/api/v1/devices/00000000-0000-4000-8000-000000000000', 404)
  await expect('GET', '/api/v1/audit', '/api/v1/audit', 401, undefined, {})
  await expect('GET', '/api/v1/audit', '/api/v1/audit', 403, undefined, as.mdm)
  await expect('GET', '/healthz', '/healthz', 200)
  await expect('GET', '/readyz', '/readyz', 200)

  // The public GET examples work as shown, and answer one of the media types the document names.
  for (const op of operations.filter((o) => o.method === 'GET' && o.access.kind === 'public')) {
    const res = await app.inject({ url: exampleUrl(op, '') })
    t.equal(res.statusCode, 200, `${op.id}: the example answers 200 (${res.body.slice(0, 100)})`)
    const documented = Object.keys(op.responses[200]?.content ?? {}).map(mediaType)
    t.ok(documented.includes(mediaType(String(res.headers['content-type']))), `${op.id}: ${res.headers['content-type']} is documented (${documented.join(', ')})`)
  }

  const jsonOperations = operations.filter((op) => Object.values(op.responses).some((r) => r.content?.['application/json'] && typeof r.content['application/json'] === 'object'))
  t.same(
    jsonOperations.map((op) => `${op.method} ${op.path}`).filter((op) => !checked.has(op)),
    [],
    'every operation that answers JSON had a real answer checked',
  )
})
