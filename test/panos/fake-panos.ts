/**
 * A PAN-OS XML API test double, built from the reference
 * (/work/shared/reference/panos-and-globalprotect.md §1, checklist §1.13):
 * `/api/` over GET and POST on 127.0.0.1 (http, or https with a given
 * certificate); parameters from the query, a form body or multipart fields;
 * the key as `key`, `X-PAN-KEY` or HTTP Basic (never Basic for keygen);
 * candidate and running configuration (fake-config.ts, fake-tree.ts); import,
 * commit jobs, the response codes and the odd `status = 'error'` quoting;
 * passwords stored encrypted; and injected failures. Every request is recorded (without secrets).
 */
import { randomBytes, X509Certificate } from 'node:crypto'
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttps } from 'node:https'
import type { AddressInfo } from 'node:net'
import { childElements, element, escapeXml, findPath, parseXml, serializeXml, textOf, type XmlElement } from '../../src/panos/xml.js'
import { defaultFirewallConfig, FakeConfig, type Operation } from './fake-config.js'
import { encryptPasswords, FakeError, parseXpath, select } from './fake-tree.js'

/** A request as the double saw it; `key` is dropped and `password` masked. */
export interface RecordedRequest {
  method: string
  /** Path and query as sent (to check that no secret travels in a URL). */
  url: string
  params: Record<string, string>
  auth: 'key-param' | 'header' | 'basic' | 'none'
  multipart: boolean
  file?: string
}

/** Options of {@link startFakePanos}. */
export interface FakePanosOptions {
  /** Administrators and their passwords. Default `{ 'kagi-api': 'kagi-api-password' }`. */
  users?: Record<string, string>
  /** Serve https with this key and certificate (PEM). */
  tls?: { key: string; cert: string }
  config?: XmlElement
}

const WRITE_ACTIONS = new Set(['set', 'edit', 'delete', 'multi-config', 'rename', 'move', 'clone', 'override'])
const ok = (inner: string, code?: number) => `<response status="success"${code ? ` code="${code}"` : ''}>${inner}</response>`
const error = (code: number | undefined, lines: string[]) =>
  `<response status="error"${code === undefined ? '' : ` code="${code}"`}><msg>${lines.map((l) => `<line><![CDATA[${l}]]></line>`).join('')}</msg></response>`
/** PAN-OS's own quoting on auth failures (reference §1.3: `status = 'error' code = '403'`). */
const forbidden = (msg: string) => `<response status = 'error' code = '403'><result><msg>${escapeXml(msg)}</msg></result></response>`

/** Starts the double on 127.0.0.1 with a random port. */
export async function startFakePanos(options: FakePanosOptions = {}) {
  const users = options.users ?? { 'kagi-api': 'kagi-api-password' }
  const keys = new Map<string, { user: string; expired: boolean }>()
  const config = new FakeConfig(options.config ?? defaultFirewallConfig())
  const requests: RecordedRequest[] = []
  const injected: { match: (r: RecordedRequest) => boolean; code: number; lines: string[] }[] = []
  const timers = new Set<NodeJS.Timeout>()

  const fake = {
    config,
    requests,
    /** How long the answer to a request waits, in ms (a slow host). Default none. */
    delayFor: (_request: RecordedRequest): number => 0,
    /** Drop every connection without an answer (a host that accepts and dies). */
    hangup: false,
    url: '',
    /** Requests that change something: config writes, imports, commits. */
    writes: () => requests.filter((r) => r.params.type === 'import' || r.params.type === 'commit' || (r.params.type === 'config' && WRITE_ACTIONS.has(r.params.action ?? ''))),
    /** A new API key for `user` (as keygen would return). */
    issueKey(user: string): string {
      const key = `LUFRPT1${randomBytes(24).toString('base64')}`
      keys.set(key, { user, expired: false })
      return key
    },
    expireKey: (key: string) => void (keys.get(key)!.expired = true),
    /** The next request matching `match` fails with `code` and `lines`. */
    failNext: (match: (r: RecordedRequest) => boolean, code: number, lines: string[]) => void injected.push({ match, code, lines }),
    /** The next commit job finishes FAIL with these details. */
    failCommit: (lines: string[]) => void (config.nextCommitFailure = lines),
    candidate: (xpath: string) => select(config.candidate, parseXpath(xpath)),
    running: (xpath: string) => select(config.running, parseXpath(xpath)),
    close: async () => {
      for (const t of timers) clearTimeout(t)
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }

  async function readParams(req: IncomingMessage, body: Buffer): Promise<{ params: Record<string, string>; multipart: boolean; file?: string }> {
    const url = new URL(req.url ?? '/', 'http://fake')
    const params: Record<string, string> = Object.fromEntries(url.searchParams)
    const type = req.headers['content-type'] ?? ''
    if (!body.length) return { params, multipart: false }
    const form = await new Response(new Uint8Array(body), { headers: { 'content-type': type } }).formData().catch(() => undefined)
    let file: string | undefined
    for (const [name, value] of form ?? []) {
      if (typeof value === 'string') params[name] = value
      else if (name === 'file') file = await value.text()
    }
    return { params, multipart: type.startsWith('multipart/'), file }
  }

  function authenticate(req: IncomingMessage, params: Record<string, string>): { user?: string; auth: RecordedRequest['auth']; refusal?: string } {
    const header = req.headers['x-pan-key']
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')
    if (basic) {
      const [user, ...rest] = Buffer.from(basic[1]!, 'base64').toString().split(':')
      return users[user!] !== undefined && users[user!] === rest.join(':') ? { user, auth: 'basic' } : { auth: 'basic', refusal: 'Invalid Credential' }
    }
    const key = typeof header === 'string' ? header : params.key
    const auth = typeof header === 'string' ? 'header' : params.key ? 'key-param' : 'none'
    const known = key ? keys.get(key) : undefined
    if (!known) return { auth, refusal: 'Invalid Credential' }
    return known.expired ? { auth, refusal: 'API Key is expired' } : { user: known.user, auth }
  }

  function configRequest(params: Record<string, string>, admin: string): string {
    const action = params.action ?? ''
    if (action === 'multi-config') return multiConfig(params, admin)
    const steps = parseXpath(params.xpath ?? '')
    if (action === 'get') {
      const nodes = select(config.candidate, steps)
      if (!nodes.length) return ok('<result/>', 7)
      return ok(`<result total-count="${nodes.length}" count="${nodes.length}">${nodes.map(serializeXml).join('')}</result>`, 19)
    }
    if (action === 'show') {
      const nodes = select(config.running, steps)
      return nodes.length ? ok(`<result>${serializeXml(nodes[0]!)}</result>`) : error(undefined, ['No such node'])
    }
    config.write([operation(action, params.xpath ?? '', params.element, admin)])
    return ok('<msg>command succeeded</msg>', 20)
  }

  function operation(action: string, xpath: string, elementText: string | undefined, admin: string): Operation {
    if (action !== 'set' && action !== 'edit' && action !== 'delete') throw new FakeError(400, [`Illegal value for parameter "action" [${action}]`])
    if (action !== 'delete' && elementText === undefined) throw new FakeError(400, ['Missing parameter "element"'])
    const wrap = parseXml(`<wrap>${elementText ?? ''}</wrap>`)
    encryptPasswords(wrap)
    const nodes = action === 'delete' ? [] : childElements(wrap)
    if (action === 'edit' && nodes.length !== 1) throw new FakeError(18, ['edit needs exactly one element'])
    return { admin, action, steps: parseXpath(xpath), nodes }
  }

  function multiConfig(params: Record<string, string>, admin: string): string {
    const root = parseXml(params.element ?? '<none/>')
    if (root.name !== 'multi-config') throw new FakeError(18, ['multi-config element expected'])
    const ops = childElements(root).map((e) => operation(e.name, e.attributes.xpath ?? '', e.children.map((c) => (typeof c === 'string' ? escapeXml(c) : serializeXml(c))).join(''), admin))
    config.write(ops, params['strict-transactional'] === 'yes')
    return ok(`<result>${childElements(root).map((e) => `<${e.name} id="${escapeXml(e.attributes.id ?? '')}" status="success"/>`).join('')}</result>`, 20)
  }

  function importRequest(params: Record<string, string>, file: string | undefined, admin: string): string {
    const name = params['certificate-name'] ?? ''
    if (params.category !== 'certificate' || params.format !== 'pem') throw new FakeError(400, ['the double imports category=certificate format=pem only'])
    if (!name || file === undefined) throw new FakeError(400, ['Missing parameter "certificate-name" or file'])
    let cert: X509Certificate
    try {
      cert = new X509Certificate(file)
    } catch {
      throw new FakeError(undefined, [`Import of ${name} failed. Failed to parse certificate`])
    }
    const field = (n: string, v: string) => element(n, {}, [v])
    const entry = element('entry', { name }, [
      field('common-name', /CN=([^\n]*)/.exec(cert.subject)?.[1] ?? ''),
      field('subject', `/${cert.subject.split('\n').join('/')}`),
      field('issuer', `/${cert.issuer.split('\n').join('/')}`),
      field('not-valid-before', cert.validFrom),
      field('not-valid-after', cert.validTo),
      field('expiry-epoch', String(Math.floor(Date.parse(cert.validTo) / 1000))),
      field('algorithm', cert.publicKey.asymmetricKeyType === 'rsa' ? 'RSA' : 'EC'),
      field('ca', cert.ca ? 'yes' : 'no'),
      field('public-key', cert.toString().trimEnd()),
    ])
    const scope = params.vsys ? `/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='${params.vsys}']` : '/config/shared'
    config.write([{ admin, action: 'edit', steps: parseXpath(`${scope}/certificate/entry[@name='${name}']`), nodes: [entry] }])
    return ok(`<result>Successfully imported ${escapeXml(name)} into candidate configuration</result>`)
  }

  function commitRequest(params: Record<string, string>, admin: string): string {
    const cmd = parseXml(params.cmd ?? '<none/>')
    if (cmd.name !== 'commit') throw new FakeError(18, ['Malformed command'])
    const partial = findPath(cmd, 'partial') ?? findPath(cmd, 'force/partial')
    const members = partial ? childElements(findPath(partial, 'admin') ?? element('x'), 'member').map((m) => textOf(m)) : []
    const id = config.enqueueCommit(admin, members.length ? members : undefined)
    if (id === undefined) return ok('<msg><line>There are no changes to commit.</line></msg>', 19)
    return ok(`<result><msg><line>Commit job enqueued with jobid ${id}</line></msg><job>${id}</job></result>`, 19)
  }

  function opRequest(params: Record<string, string>): string {
    const cmd = parseXml(params.cmd ?? '<none/>')
    const jobId = textOf(findPath(cmd, 'jobs/id'))
    if (cmd.name === 'show' && jobId) {
      const job = config.showJob(Number(jobId))
      return job ? ok(`<result>${job}</result>`) : error(undefined, [`job ${jobId} not found`])
    }
    if (cmd.name === 'check' && findPath(cmd, 'pending-changes')) return ok(`<result>${config.pending.length ? 'yes' : 'no'}</result>`)
    if (cmd.name === 'show' && findPath(cmd, 'system/info')) return ok('<result><system><hostname>fake-fw</hostname><sw-version>11.1.0</sw-version></system></result>')
    throw new FakeError(17, ['Invalid command'])
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const { params, multipart, file } = await readParams(req, body)
    const who = params.type === 'keygen' ? { auth: 'none' as const, user: undefined, refusal: undefined } : authenticate(req, params)
    const { key: _key, ...safe } = params
    if (safe.password !== undefined) safe.password = '***'
    const record: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', params: safe, auth: who.auth, multipart, file }
    requests.push(record)
    const send = (status: number, xml: string) => {
      const timer = setTimeout(() => {
        timers.delete(timer)
        if (!res.destroyed) res.writeHead(status, { 'content-type': 'application/xml; charset=UTF-8' }).end(xml)
      }, fake.delayFor(record))
      timers.add(timer)
    }
    if (!new URL(req.url ?? '/', 'http://fake').pathname.startsWith('/api')) return send(404, '<html><body>Not Found</body></html>')
    if (params.type === 'keygen') {
      if (req.headers.authorization) return send(403, forbidden('Basic authentication cannot be used for keygen'))
      const user = params.user ?? ''
      if (users[user] === undefined || users[user] !== params.password) return send(403, forbidden('Invalid Credential'))
      return send(200, ok(`<result><key>${fake.issueKey(user)}</key></result>`))
    }
    if (who.refusal || !who.user) return send(403, forbidden(who.refusal ?? 'Invalid Credential'))
    const failure = injected.findIndex((f) => f.match(record))
    if (failure >= 0) {
      const [f] = injected.splice(failure, 1)
      return send(200, error(f!.code, f!.lines))
    }
    try {
      if (params.type === 'config') return send(200, configRequest(params, who.user))
      if (params.type === 'import') return send(200, importRequest(params, file, who.user))
      if (params.type === 'commit') return send(200, commitRequest(params, who.user))
      if (params.type === 'op') return send(200, opRequest(params))
      return send(400, error(400, [`Illegal value for parameter "type" [${params.type ?? ''}]`]))
    } catch (e) {
      if (e instanceof FakeError) return send(200, error(e.code, e.lines))
      return send(200, error(18, [`Malformed request: ${(e as Error).message}`]))
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (fake.hangup) return void req.socket.destroy()
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => void handle(req, res, Buffer.concat(chunks)).catch(() => res.destroy()))
  }
  const server: Server = options.tls ? createHttps({ key: options.tls.key, cert: options.tls.cert }, listener) : createHttp(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  fake.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`
  return fake
}

/** The double's handle. */
export type FakePanos = Awaited<ReturnType<typeof startFakePanos>>
