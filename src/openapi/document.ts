import type { FastifyRequest } from 'fastify'
import { z } from 'zod'
import { SESSION_COOKIE } from '../auth/session.js'
import { kagiVersion } from '../package-dir.js'
import { wantsJson } from '../web/error-page.js'
import { curlCommand } from './curl.js'
import { operations } from './operations.js'
import { tags, type Access, type Operation, type Payload, type ResponseSpec } from './operation-types.js'
import { errorBody } from './response-schemas.js'

/**
 * The OpenAPI 3.1 document of kagi's API, generated from the operation
 * catalogue (operations.ts): every schema is z.toJSONSchema of the zod
 * schema the route parses with (draft 2020-12, OpenAPI 3.1's dialect),
 * requests as their input side (a field with a default is optional),
 * answers as their output side.
 */

/** A JSON Schema object (draft 2020-12). */
export type JsonSchema = { [keyword: string]: unknown }

/** The parts of an OpenAPI 3.1 document that kagi writes. */
export interface OpenApiDocument {
  openapi: '3.1.0'
  info: { title: string; version: string; description: string }
  servers: { url: string }[]
  tags: { name: string; description: string }[]
  paths: Record<string, Record<string, OpenApiOperation>>
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> }
}

export interface OpenApiParameter {
  name: string
  in: 'path' | 'query'
  required: boolean
  description?: string
  schema: JsonSchema
  example?: string
}

export interface OpenApiMedia {
  schema?: JsonSchema
  example?: unknown
}

export interface OpenApiResponse {
  description: string
  headers?: Record<string, { description: string; schema: JsonSchema }>
  content?: Record<string, OpenApiMedia>
}

export interface OpenApiOperation {
  operationId: string
  tags: string[]
  summary: string
  description?: string
  security?: Partial<Record<string, string[]>>[]
  parameters?: OpenApiParameter[]
  requestBody?: { required: boolean; description?: string; content: Record<string, OpenApiMedia> }
  responses: Record<string, OpenApiResponse>
  /** The curl command of the page (a vendor extension that API tools show as a code sample). */
  'x-codeSamples'?: { lang: 'curl'; label: string; source: string }[]
}

/** Where the error object is defined once. */
const ERROR_REF = '#/components/schemas/Error'

/** The security schemes, named as the operations' `security` refer to them. */
const securitySchemes = {
  apiToken: {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API token (`kagi token create --role admin|mdm --name NAME`, or the admin console) as `Authorization: Bearer <token>`. A token has one role; an operation lists the roles it accepts. A revoked token stops working within 10 s.',
  },
  ndesBasic: {
    type: 'http',
    scheme: 'basic',
    description: 'HTTP Basic as NDES clients send it: any user name, an mdm or admin API token as the password.',
  },
  session: {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description: 'The signed-in employee’s session (sign in at /); not for scripts.',
  },
  metricsToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'KAGI_METRICS_TOKEN as `Authorization: Bearer <token>`, needed only when that variable is set.',
  },
} as const satisfies Record<string, JsonSchema>

type SchemeName = keyof typeof securitySchemes

/** A zod schema as JSON Schema, without the `$schema` keyword (the document's dialect says it). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io }) as JsonSchema
  return rest
}

/** OpenAPI's security requirement: any one of the listed alternatives (for http schemes, the roles accepted). */
function security(access: Access): Partial<Record<SchemeName, string[]>>[] | undefined {
  switch (access.kind) {
    case 'public':
      return undefined
    case 'token':
      return [{ apiToken: [...access.roles] }, ...(access.basic ? [{ ndesBasic: [...access.roles] }] : [])]
    case 'session':
      return [{ session: [] }]
    case 'metrics':
      // The empty requirement first: open unless the operator set a token.
      return [{}, { metricsToken: [] }]
  }
}

/** The refusals of the access check, which every protected operation can answer. */
function accessRefusals(access: Access): Record<number, ResponseSpec> {
  switch (access.kind) {
    case 'public':
      return {}
    case 'token':
      return {
        401: { description: `Refused: unauthorized (no token, or not a valid one)${access.basic ? '; with WWW-Authenticate: Basic, so that clients send their credentials' : ''}` },
        403: { description: `Refused: forbidden (a token of another role than ${access.roles.join(' or ')})` },
      }
    case 'session':
      return { 401: { description: 'Refused: unauthorized (not signed in)' }, 403: { description: 'Refused: forbidden (a cross-site request)' } }
    case 'metrics':
      return { 401: { description: 'Refused: unauthorized (KAGI_METRICS_TOKEN is set and the request does not carry it)' } }
  }
}

/** An answer's payload: bytes (no schema), text, or JSON as the schema's output side. */
function media(payload: Payload): OpenApiMedia {
  if (payload === 'binary') return {}
  if (payload === 'text') return { schema: { type: 'string' } }
  return { schema: payload === errorBody ? { $ref: ERROR_REF } : jsonSchema(payload, 'output') }
}

/** A request's payload: the route's own schema as its input side (a field with a default is optional), with the example. */
function requestMedia(payload: Payload, example: unknown): OpenApiMedia {
  if (typeof payload === 'string') return media(payload)
  return { schema: jsonSchema(payload, 'input'), ...(example === undefined ? {} : { example }) }
}

/**
 * One answer. Refusals carry the error object: always as JSON under /api,
 * /ocsp and /scep, elsewhere as JSON when the client accepts it and as a
 * page for browsers (src/web/error-page.ts wantsJson decides).
 */
function response(operation: Operation, status: number, spec: ResponseSpec): OpenApiResponse {
  const alwaysJson = wantsJson({ url: operation.path, headers: {} } as FastifyRequest)
  let content = spec.content && Object.fromEntries(Object.entries(spec.content).map(([type, payload]) => [type, media(payload)]))
  let description = spec.description
  if (!content && status >= 400) {
    content = { 'application/json': media(errorBody), ...(alwaysJson ? {} : { 'text/html; charset=utf-8': media('text') }) }
    if (!alwaysJson) description += ' (JSON when the request accepts application/json, else a page)'
  }
  const headers = spec.headers && Object.fromEntries(Object.entries(spec.headers).map(([name, text]) => [name, { description: text, schema: { type: 'string' } }]))
  return { description, ...(headers ? { headers } : {}), ...(content ? { content } : {}) }
}

const example = (value: string | undefined) => (value === undefined ? {} : { example: value })

/** Path and query parameters, each with the JSON Schema of its field. */
function parameters(operation: Operation): OpenApiParameter[] {
  const list: OpenApiParameter[] = []
  for (const [name, schema] of Object.entries(operation.params ?? {})) {
    const { description, ...rest } = jsonSchema(schema, 'input')
    list.push({ name, in: 'path', required: true, ...(description ? { description: String(description) } : {}), schema: rest, ...example(operation.example?.params?.[name]) })
  }
  if (operation.query) {
    const object = jsonSchema(operation.query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] }
    for (const [name, property] of Object.entries(object.properties ?? {})) {
      const { description, ...rest } = property
      list.push({
        name,
        in: 'query',
        required: object.required?.includes(name) ?? false,
        ...(description ? { description: String(description) } : {}),
        schema: rest,
        ...example(operation.example?.query?.[name]),
      })
    }
  }
  return list
}

function openApiOperation(operation: Operation, publicUrl: string): OpenApiOperation {
  const parameterList = parameters(operation)
  const body = operation.body
  const responses = { ...accessRefusals(operation.access), ...operation.responses }
  const requirement = security(operation.access)
  return {
    operationId: operation.id,
    tags: [operation.tag],
    summary: operation.summary,
    ...(operation.description ? { description: operation.description } : {}),
    ...(requirement ? { security: requirement } : {}),
    ...(parameterList.length ? { parameters: parameterList } : {}),
    ...(body
      ? {
          requestBody: {
            required: body.required,
            ...(body.description ? { description: body.description } : {}),
            content: Object.fromEntries(Object.entries(body.content).map(([type, payload]) => [type, requestMedia(payload, operation.example?.body)])),
          },
        }
      : {}),
    responses: Object.fromEntries(
      Object.entries(responses)
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([status, spec]) => [status, response(operation, Number(status), spec)]),
    ),
    'x-codeSamples': [{ lang: 'curl', label: 'curl', source: curlCommand(operation, publicUrl) }],
  }
}

/** Options of {@link buildOpenApiDocument}. */
export interface DocumentOptions {
  /** KAGI_PUBLIC_URL: the server of the document and of the curl examples. */
  publicUrl: string
}

/** Builds the whole document from the catalogue. Pure; see {@link openApiDocument} for the cached one. */
export function buildOpenApiDocument(options: DocumentOptions, catalogue: readonly Operation[] = operations): OpenApiDocument {
  const publicUrl = options.publicUrl.replace(/\/+$/, '')
  const paths: OpenApiDocument['paths'] = {}
  for (const operation of catalogue) {
    const item = (paths[operation.path] ??= {})
    item[operation.method.toLowerCase()] = openApiOperation(operation, publicUrl)
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'kagi',
      version: kagiVersion(),
      description:
        'Device-certificate authority and enrollment service for GlobalProtect VPN. Errors are JSON `{ "error": { "code", "message" } }`: the code is a contract, the message is for people. Unknown body fields and query parameters of /api/v1 are refused with 400 invalid_request, naming them.',
    },
    servers: [{ url: publicUrl }],
    tags: tags.map((tag) => ({ ...tag })),
    paths,
    components: { schemas: { Error: jsonSchema(errorBody, 'output') }, securitySchemes },
  }
}

const cache = new WeakMap<object, OpenApiDocument>()

/**
 * The document of one app, built on first use and kept for the app's life
 * (keyed by its config object): generating it converts every schema.
 */
export function openApiDocument(config: { publicUrl: string }): OpenApiDocument {
  let document = cache.get(config)
  if (!document) cache.set(config, (document = buildOpenApiDocument({ publicUrl: config.publicUrl })))
  return document
}
