import { html, Html, page, type PageContext } from '../web/html.js'
import type { JsonSchema, OpenApiDocument, OpenApiOperation, OpenApiParameter } from './document.js'

/**
 * The /docs page: the OpenAPI document (document.ts) rendered as HTML on
 * the server, grouped by tag. It shows only what /openapi.json says, so the
 * two cannot disagree. No script, and nothing from another origin: the page
 * shell's own style, plus a few rules of its own under the same CSP nonce.
 */

// Wider than the employee page (tables); code and names that do not break inside a word (the
// page's main breaks anywhere, which would squeeze table columns to a letter); wrapping examples.
const css = `main:has(.api-docs),header:has(+main .api-docs){max-width:72rem}
.api-docs pre{white-space:pre-wrap;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem;margin:.5rem 0}
.api-docs h3{font-size:1.05rem;margin:0 0 .25rem}.api-docs h4{font-size:1rem;margin:1rem 0 .25rem}
.api-docs .method{font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:700;border:1px solid currentColor;border-radius:4px;padding:0 .3rem;margin-right:.4rem}
.api-docs th,.api-docs td code,.api-docs .name{overflow-wrap:normal}.api-docs td code,.api-docs li code{font-size:.9rem}.api-docs td .muted{font-size:.85rem}
.api-docs table{margin:.25rem 0 1rem}.api-docs .toc ul{margin:.25rem 0}.api-docs caption{text-align:left;font-weight:600;padding:.25rem 0}
@media (max-width:40rem){.api-docs .card{padding:.75rem .5rem}.api-docs th,.api-docs td{padding:.3rem .2rem}}
.api-docs .visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}`

/** Text with CommonMark code spans (`like this`, as OpenAPI descriptions may have them) as <code>; the rest escaped. */
export function prose(text: unknown): Html {
  return html`${String(text ?? '')
    .split(/`([^`]+)`/)
    .map((part, i) => (i % 2 ? html`<code>${part}</code>` : part))}`
}

const anchor = (operationId: string): string => `op-${operationId}`
const tagAnchor = (tag: string): string => `tag-${tag.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`

/** Resolves `#/components/schemas/Name` references of the document. */
type Resolve = (schema: JsonSchema) => JsonSchema

/** The type of a schema in a few words: `string (date-time)`, `user | device`, `array of object`. */
export function typeText(schema: JsonSchema, resolve: Resolve): string {
  if (typeof schema.$ref === 'string') return `${schema.$ref.split('/').pop()} object`
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ')
  if ('const' in schema) return JSON.stringify(schema.const)
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as JsonSchema[]).map((s) => typeText(resolve(s), resolve)).join(' or ')
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : typeof schema.type === 'string' ? [schema.type] : []
  const words = types.map((type) => {
    if (type === 'array' && schema.items) return `array of ${typeText(resolve(schema.items as JsonSchema), resolve)}`
    if (type === 'string' && typeof schema.format === 'string') return `string (${schema.format})`
    return type
  })
  return words.length ? words.join(' or ') : 'any'
}

/** The constraints a schema states: default, lengths, bounds, pattern. */
export function constraintText(schema: JsonSchema): string[] {
  const out: string[] = []
  if ('default' in schema) out.push(`default ${JSON.stringify(schema.default)}`)
  const range = (min: unknown, max: unknown, unit: string) => {
    if (typeof min === 'number' && typeof max === 'number') out.push(`${min} to ${max}${unit}`)
    else if (typeof min === 'number') out.push(`at least ${min}${unit}`)
    else if (typeof max === 'number') out.push(`at most ${max}${unit}`)
  }
  range(schema.minLength, schema.maxLength, ' characters')
  // zod states every integer's safe range; only a narrower bound says something.
  const bound = (value: unknown) => (typeof value === 'number' && Math.abs(value) < Number.MAX_SAFE_INTEGER ? value : undefined)
  range(bound(schema.minimum), bound(schema.maximum), '')
  range(schema.minItems, schema.maxItems, ' items')
  // A format says more than the regular expression zod writes for it.
  if (typeof schema.pattern === 'string' && typeof schema.format !== 'string') out.push(`matches ${schema.pattern}`)
  return out
}

/** One row of a field table. */
interface FieldRow {
  name: string
  schema: JsonSchema
  required: boolean
}

/** The fields of an object schema, nested ones as `device.name` and `certificates[].serial`. */
export function fieldRows(schema: JsonSchema, resolve: Resolve, prefix = ''): FieldRow[] {
  const rows: FieldRow[] = []
  const object = resolve(schema)
  const required = new Set(Array.isArray(object.required) ? (object.required as string[]) : [])
  for (const [name, raw] of Object.entries((object.properties ?? {}) as Record<string, JsonSchema>)) {
    const property = resolve(raw)
    const path = `${prefix}${name}`
    rows.push({ name: path, schema: property, required: required.has(name) })
    rows.push(...nestedRows(property, resolve, path))
  }
  return rows
}

function nestedRows(schema: JsonSchema, resolve: Resolve, path: string): FieldRow[] {
  if (schema.properties) return fieldRows(schema, resolve, `${path}.`)
  if (schema.items) return nestedRows(resolve(schema.items as JsonSchema), resolve, `${path}[]`)
  if (Array.isArray(schema.anyOf)) {
    const forms = (schema.anyOf as JsonSchema[]).map(resolve).filter((s) => s.properties)
    // A union of objects (a device by id, or described): each form's fields, named by form.
    return forms.flatMap((form, i) => fieldRows(form, resolve, `${path}.`).map((row) => ({ ...row, name: forms.length > 1 ? `${row.name} (form ${i + 1})` : row.name })))
  }
  return []
}

function describedType(schema: JsonSchema, resolve: Resolve): Html {
  const constraints = constraintText(schema)
  return html`<code>${breakable(typeText(schema, resolve))}</code>${constraints.length ? html`<br><span class="muted">${constraints.join('; ')}</span>` : html``}`
}

/** A name, type or media type with break opportunities after dots and slashes and inside camelCase, for narrow screens. */
function breakable(text: string): Html {
  return html`${text.split(/(?<=[./])|(?<=[a-z])(?=[A-Z])/).map((part, i) => html`${i ? new Html('<wbr>') : html``}${part}`)}`
}

/** The name cell: the name, and under it where it goes and whether it is required. */
function nameCell(name: string, notes: string[]): Html {
  return html`<td class="name"><code>${breakable(name)}</code>${notes.length ? html`<br><span class="muted">${notes.join(', ')}</span>` : html``}</td>`
}

const tableHead = (first: string) => html`<thead><tr><th scope="col">${first}</th><th scope="col">Type</th><th scope="col">Description</th></tr></thead>`

/** A table of fields; `shownCaption` false when a summary right above already says what it is. */
function fieldTable(caption: string, rows: FieldRow[], resolve: Resolve, shownCaption = true): Html {
  if (rows.length === 0) return html``
  return html`<table><caption${shownCaption ? html`` : html` class="visually-hidden"`}>${caption}</caption>${tableHead('Field')}<tbody>${rows.map(
    (row) => html`<tr>${nameCell(row.name, row.required ? ['required'] : [])}<td>${describedType(row.schema, resolve)}</td><td>${prose(row.schema.description)}</td></tr>`,
  )}</tbody></table>`
}

function parameterTable(list: OpenApiParameter[], resolve: Resolve): Html {
  if (list.length === 0) return html``
  return html`<table><caption>Parameters</caption>${tableHead('Name')}<tbody>${list.map(
    (p) => html`<tr>${nameCell(p.name, [p.in, ...(p.required ? ['required'] : [])])}<td>${describedType(p.schema, resolve)}</td><td>${prose(p.description)}</td></tr>`,
  )}</tbody></table>`
}

/** Who may call: the operation's security requirements in words. */
export function accessText(operation: OpenApiOperation): string {
  const requirements = operation.security ?? []
  if (requirements.length === 0) return 'None'
  const words = requirements.map((requirement) => {
    const [scheme, roles = []] = Object.entries(requirement)[0] ?? []
    const role = roles.length ? ` with role ${roles.join(' or ')}` : ''
    switch (scheme) {
      case undefined:
        return 'none'
      case 'apiToken':
        return `an API token${role} (Authorization: Bearer)`
      case 'ndesBasic':
        return 'that token as the HTTP Basic password'
      case 'session':
        return 'the signed-in employee’s session cookie'
      case 'metricsToken':
        return 'Authorization: Bearer KAGI_METRICS_TOKEN when that is set'
      default:
        return scheme
    }
  })
  const text = words.join(', or ')
  return text.charAt(0).toUpperCase() + text.slice(1)
}

function operationView(path: string, method: string, operation: OpenApiOperation, resolve: Resolve): Html {
  const body = operation.requestBody
  const bodyParts = body
    ? Object.entries(body.content).map(
        ([type, media]) =>
          html`<p>${body.required ? 'Required' : 'Optional (a missing body takes every default)'}, <code>${type}</code>${body.description ? html`: ${prose(body.description)}` : html``}</p>${media.schema ? fieldTable('Body fields', fieldRows(media.schema, resolve), resolve) : html``}`,
      )
    : []
  const responses = Object.entries(operation.responses)
  const answerFields = responses.flatMap(([status, response]) =>
    Object.entries(response.content ?? {})
      .filter(([type, media]) => type === 'application/json' && media.schema && !media.schema.$ref && Number(status) < 400)
      .map(([, media]) => html`<details><summary>Fields of the ${status} answer</summary>${fieldTable(`Fields of the ${status} answer`, fieldRows(media.schema!, resolve), resolve, false)}</details>`),
  )
  const curl = operation['x-codeSamples']?.find((sample) => sample.lang === 'curl')
  return html`<section class="card" aria-labelledby="${anchor(operation.operationId)}">
<h3 id="${anchor(operation.operationId)}"><span class="method">${method.toUpperCase()}</span><code>${path}</code></h3>
<p><strong>${operation.summary}</strong></p>${operation.description ? html`<p>${prose(operation.description)}</p>` : html``}
<p><strong>Authentication:</strong> ${accessText(operation)}</p>
${parameterTable(operation.parameters ?? [], resolve)}${body ? html`<h4>Request body</h4>${bodyParts}` : html``}
<table><caption>Responses</caption><thead><tr><th scope="col">Status</th><th scope="col">Content</th><th scope="col">Description</th></tr></thead><tbody>${responses.map(
    ([status, response]) =>
      html`<tr><td>${status}</td><td>${Object.keys(response.content ?? {}).map((type, i) => html`${i ? html`<br>` : html``}<code>${breakable(type)}</code>`)}</td><td>${prose(response.description)}${Object.entries(response.headers ?? {}).map(
        ([name, header]) => html`<br><code>${name}</code>: ${prose(header.description)}`,
      )}</td></tr>`,
  )}</tbody></table>${answerFields}
${curl ? html`<h4>Example</h4><pre><code>${curl.source}</code></pre>` : html``}</section>`
}

/**
 * The page's content (everything inside <main>, without the nonce-bearing
 * style): built once per document, since the document is built once per app.
 */
export function docsContent(document: OpenApiDocument): Html {
  const resolve: Resolve = (schema) => {
    const ref = typeof schema.$ref === 'string' ? schema.$ref.replace('#/components/schemas/', '') : undefined
    return ref && document.components.schemas[ref] ? document.components.schemas[ref]! : schema
  }
  const byTag = document.tags.map((tag) => ({
    tag,
    operations: Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([, operation]) => operation.tags.includes(tag.name))
        .map(([method, operation]) => ({ path, method, operation })),
    ),
  }))
  const server = document.servers[0]?.url ?? ''
  return html`<div class="api-docs">
<h2>API reference</h2>
<p>${prose(document.info.description)}</p>
<p>The same reference as an OpenAPI 3.1 document: <a href="/openapi.json">/openapi.json</a>. The examples use <code>${server}</code> and a token in <code>$KAGI_TOKEN</code>.</p>
<h2 id="authentication">Authentication</h2>
<dl>${Object.entries(document.components.securitySchemes).map(([name, scheme]) => html`<dt><code>${name}</code></dt><dd>${prose(scheme.description)}</dd>`)}</dl>
<nav class="toc" aria-label="Operations"><h2 id="operations">Operations</h2><ul>${byTag.map(
    ({ tag, operations }) =>
      html`<li><a href="#${tagAnchor(tag.name)}">${tag.name}</a><ul>${operations.map(
        ({ path, method, operation }) => html`<li><a href="#${anchor(operation.operationId)}"><code>${method.toUpperCase()} ${path}</code></a> ${operation.summary}</li>`,
      )}</ul></li>`,
  )}</ul></nav>
${byTag.map(
  ({ tag, operations }) =>
    html`<section aria-labelledby="${tagAnchor(tag.name)}"><h2 id="${tagAnchor(tag.name)}">${tag.name}</h2><p>${prose(tag.description)}</p>${operations.map(({ path, method, operation }) => operationView(path, method, operation, resolve))}</section>`,
)}
</div>`
}

/** The whole page for one response: the shell in the reader's language, the reference in English. */
export function docsPage(ctx: PageContext, content: Html): Html {
  const body = ctx.lang === 'en' ? content : html`<div lang="en">${content}</div>`
  return page(ctx, 'kagi API reference', html`<style nonce="${ctx.nonce}">${new Html(css)}</style>${body}`)
}
