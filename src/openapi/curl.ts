import { SESSION_COOKIE } from '../auth/session.js'
import type { Operation } from './operation-types.js'

/** A word for a POSIX shell: single-quoted unless it is plainly safe. */
export function shellWord(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`
}

/** The request URL of an operation's example: path parameters filled in, then its query. */
export function exampleUrl(operation: Operation, publicUrl: string): string {
  const params = operation.example?.params ?? {}
  // The OCSP GET parameter is already URL-encoded base64; the others are plain values.
  const path = operation.path.replace(/\{([^}]+)\}/g, (_match, name: string) => (operation.route?.endsWith('*') ? (params[name] ?? name) : encodeURIComponent(params[name] ?? name)))
  const query = new URLSearchParams(operation.example?.query ?? {}).toString()
  return `${publicUrl}${path}${query ? `?${query}` : ''}`
}

/**
 * A curl command for the operation's example, one option a line: the token
 * from $KAGI_TOKEN (double-quoted so that the shell expands it), the example
 * body, where a download goes, and the URL.
 */
export function curlCommand(operation: Operation, publicUrl: string): string {
  const lines: string[] = ['curl -sS']
  const { access, body, example } = operation
  if (access.kind === 'token') lines.push(access.basic ? '-u "kagi:$KAGI_TOKEN"' : '-H "Authorization: Bearer $KAGI_TOKEN"')
  else if (access.kind === 'session') lines.push(`-b "${SESSION_COOKIE}=$KAGI_SESSION"`)
  if (body) {
    const [type] = Object.keys(body.content)
    if (type === 'application/json') lines.push(`-H ${shellWord('content-type: application/json')}`, `-d ${shellWord(JSON.stringify(example?.body ?? {}))}`)
    else lines.push(`-H ${shellWord(`content-type: ${type}`)}`, `--data-binary @${example?.bodyFile ?? 'body.der'}`)
  } else if (operation.method !== 'GET') lines.push(`-X ${operation.method}`)
  if (example?.curl?.length) lines.push(example.curl.map(shellWord).join(' '))
  lines.push(shellWord(exampleUrl(operation, publicUrl)))
  return lines.join(' \\\n  ')
}
