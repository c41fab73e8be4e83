import type { PanosConfig } from './config.js'
import { PanosError, redact, responseCodes, type PanosErrorKind } from './errors.js'
import { post, type Endpoint } from './http.js'
import { messageLines, type JobState, parseJob } from './response.js'
import { escapeXml, findPath, parseXml, textOf, XmlParseError, childElements, type XmlElement } from './xml.js'

/** A parsed XML API answer. */
interface Answer {
  status: string
  code?: number
  root: XmlElement
  lines: string[]
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A PAN-OS XML API client (reference §1): every request is a POST to
 * `/api/` with the parameters in a form body (or, for `type=import`, in the
 * query with the file as multipart, as pan-python sends it), and the API key
 * in the `X-PAN-KEY` header, so it never appears in a URL or a log line.
 */
export class PanosClient {
  /** A true private field, so not even `util.inspect(client)` shows the key. */
  readonly #key: string
  readonly #secrets: readonly string[]

  private constructor(
    private readonly endpoint: Endpoint,
    key: string,
    secrets: readonly string[],
    /** The administrator the key belongs to, when known (from KAGI_PANOS_USER). */
    readonly user: string | undefined,
    private readonly timing: Pick<PanosConfig, 'commitTimeoutMs' | 'pollIntervalMs'>,
  ) {
    this.#key = key
    this.#secrets = secrets
  }

  /** Connects with the configured API key, or exchanges the user and password for one (`type=keygen`, §1.2). */
  static async connect(config: PanosConfig): Promise<PanosClient> {
    const endpoint: Endpoint = { url: config.url, caPem: config.caPem, timeoutMs: config.requestTimeoutMs }
    const timing = { commitTimeoutMs: config.commitTimeoutMs, pollIntervalMs: config.pollIntervalMs }
    // The SCEP token travels in a write; should the firewall echo it in an error, it is redacted like the credentials.
    const scepToken = config.scep ? [config.scep.token] : []
    if ('apiKey' in config.auth) return new PanosClient(endpoint, config.auth.apiKey, [config.auth.apiKey, ...scepToken], config.auth.user, timing)
    const { user, password } = config.auth
    const keygen = new PanosClient(endpoint, '', [password], user, timing)
    const answer = await keygen.call('keygen', { type: 'keygen', user, password })
    const key = textOf(findPath(answer.root, 'result/key')).trim()
    if (!key) throw new PanosError('protocol', 'the keygen answer holds no key')
    return new PanosClient(endpoint, key, [key, password, ...scepToken], user, timing)
  }

  private fail(kind: PanosErrorKind, message: string, code?: number, lines: string[] = []): PanosError {
    return new PanosError(kind, redact(message, this.#secrets), code, lines.map((l) => redact(l, this.#secrets)))
  }

  /** Sends one request; returns the answer unless it is an error (then throws, unless `tolerate` accepts it). */
  private async call(what: string, params: Record<string, string>, file?: { name: string; content: string }, tolerate?: (a: Answer) => boolean): Promise<Answer> {
    const headers: Record<string, string> = this.#key ? { 'x-pan-key': this.#key } : {}
    let path = 'api/'
    let body: Buffer
    if (file) {
      path += `?${new URLSearchParams(params)}`
      const form = new FormData()
      form.append('file', new Blob([file.content], { type: 'application/octet-stream' }), file.name)
      const encoded = new Response(form)
      headers['content-type'] = encoded.headers.get('content-type')!
      body = Buffer.from(await encoded.arrayBuffer())
    } else {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = Buffer.from(new URLSearchParams(params).toString())
    }
    let http
    try {
      http = await post(this.endpoint, path, body, headers)
    } catch (error) {
      throw error instanceof PanosError ? this.fail(error.kind, error.message, error.code) : error
    }
    let root: XmlElement
    try {
      root = parseXml(http.body)
      if (root.name !== 'response') throw new XmlParseError(`root element <${root.name}>`)
    } catch (error) {
      if (http.status === 401 || http.status === 403) throw this.authError(what, [`HTTP ${http.status}`])
      throw this.fail('protocol', `${what}: the answer (HTTP ${http.status}) is not an XML API response (${(error as Error).message}); is KAGI_PANOS_URL a PAN-OS firewall?`)
    }
    const codeText = root.attributes.code
    const answer: Answer = { status: root.attributes.status ?? '', code: codeText ? Number(codeText) : undefined, root, lines: messageLines(root) }
    const failed = answer.status === 'error' || answer.status === 'failed' || http.status >= 400
    if (!failed || tolerate?.(answer)) return answer
    if (answer.code === 403 || http.status === 401 || http.status === 403) throw this.authError(what, answer.lines)
    const meaning = answer.code !== undefined ? `${responseCodes[answer.code] ?? 'error'} (code ${answer.code})` : 'error'
    throw this.fail('rejected', `${what}: the firewall answered ${meaning}: ${answer.lines.join(' / ') || '(no message)'}`, answer.code, answer.lines)
  }

  private authError(what: string, lines: string[]): PanosError {
    const why = lines.join(' / ') || 'forbidden'
    if (what === 'keygen') return this.fail('auth', `the firewall refused the user name or password (${why}): check KAGI_PANOS_USER and KAGI_PANOS_PASSWORD`, 403, lines)
    return this.fail('auth', `the firewall refused the API key (${why}): check KAGI_PANOS_API_KEY; it may be wrong or expired, or its administrator may lack XML API rights`, 403, lines)
  }

  /** The first node at `xpath` in the candidate configuration, or undefined (code 7, §1.3). */
  async get(xpath: string): Promise<XmlElement | undefined> {
    const answer = await this.call(`get ${xpath}`, { type: 'config', action: 'get', xpath })
    return answer.code === 7 ? undefined : childElements(findPath(answer.root, 'result') ?? answer.root)[0]
  }

  /** The node at `xpath` in the running configuration, or undefined (status error "No such node", §1.3). */
  async show(xpath: string): Promise<XmlElement | undefined> {
    const missing = (a: Answer) => a.status === 'error' && (a.code === 7 || (a.code === undefined && a.lines.some((l) => /no such node/i.test(l))))
    const answer = await this.call(`show ${xpath}`, { type: 'config', action: 'show', xpath }, undefined, missing)
    return missing(answer) ? undefined : childElements(findPath(answer.root, 'result') ?? answer.root)[0]
  }

  /** Merges `element` (the children of the last xpath node) into the candidate configuration. */
  async set(xpath: string, element: string): Promise<void> {
    await this.call(`set ${xpath}`, { type: 'config', action: 'set', xpath, element })
  }

  /** Replaces the node at `xpath` with `element` (the node itself, with its own tag). */
  async edit(xpath: string, element: string): Promise<void> {
    await this.call(`edit ${xpath}`, { type: 'config', action: 'edit', xpath, element })
  }

  /** Removes the node at `xpath` from the candidate configuration. */
  async delete(xpath: string): Promise<void> {
    await this.call(`delete ${xpath}`, { type: 'config', action: 'delete', xpath })
  }

  /** Imports a PEM certificate (no key) into shared under `name` (§1.5). */
  async importCertificate(name: string, pem: string): Promise<string[]> {
    const params = { type: 'import', category: 'certificate', 'certificate-name': name, format: 'pem' }
    const answer = await this.call(`import certificate ${name}`, params, { name: `${name}.pem`, content: pem })
    return answer.lines.length ? answer.lines : [textOf(findPath(answer.root, 'result')).trim()]
  }

  /** Runs an operational command (`type=op`) and returns the whole answer. */
  async op(cmd: string): Promise<XmlElement> {
    return (await this.call(`op ${cmd}`, { type: 'op', cmd })).root
  }

  /**
   * Commits only the changes of `admin` (partial commit, PAN-OS 8.0+, §1.9).
   * Returns the job id, or none when the firewall has nothing to commit.
   */
  async commitPartial(admin: string): Promise<{ jobId?: string; lines: string[] }> {
    const cmd = `<commit><partial><admin><member>${escapeXml(admin)}</member></admin></partial></commit>`
    const answer = await this.call('commit', { type: 'commit', action: 'partial', cmd })
    const jobId = textOf(findPath(answer.root, 'result/job')).trim()
    if (jobId && !/^\d+$/.test(jobId)) throw this.fail('protocol', `commit: unexpected job id "${jobId}"`)
    return { jobId: jobId || undefined, lines: answer.lines }
  }

  /** The state of job `id` (`show jobs id`, §1.9). */
  async job(id: string): Promise<JobState> {
    return parseJob(await this.op(`<show><jobs><id>${id}</id></jobs></show>`), id)
  }

  /**
   * Polls job `id` until it finishes (status FIN) or the commit deadline
   * passes (then PanosError `timeout`). `onPoll` sees every intermediate state.
   */
  async waitForJob(id: string, onPoll?: (job: JobState) => void): Promise<JobState> {
    const { commitTimeoutMs, pollIntervalMs } = this.timing
    const deadline = Date.now() + commitTimeoutMs
    const maxPolls = Math.ceil(commitTimeoutMs / Math.max(pollIntervalMs, 1)) + 1
    for (let poll = 0; poll < maxPolls && Date.now() <= deadline; poll++) {
      const job = await this.job(id)
      if (job.status === 'FIN') return job
      onPoll?.(job)
      await sleep(pollIntervalMs)
    }
    throw this.fail('timeout', `commit job ${id} was still running after ${commitTimeoutMs / 1000} s; it may still finish: check Tasks in the web interface or \`show jobs id ${id}\``)
  }
}
