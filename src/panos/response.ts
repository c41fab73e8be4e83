import { PanosError } from './errors.js'
import { childElements, findPath, isElement, textOf, type XmlElement } from './xml.js'

/** All text inside an element and its descendants (job details may nest `<newjob><newmsg>`). */
function deepText(node: XmlElement): string {
  return node.children.map((c) => (isElement(c) ? deepText(c) : c)).join(' ')
}

/** The texts of `line` children, flattening nested `<line><line>…</line></line>`. */
function lineTexts(node: XmlElement): string[] {
  return childElements(node, 'line').flatMap((line) =>
    childElements(line, 'line').length ? lineTexts(line) : [deepText(line).replace(/\s+/g, ' ').trim()],
  )
}

/**
 * The message of an answer, as lines, looked up where pan-python looks
 * (`__get_response_msg`, reference §1.3): `msg/line`, `result/msg/line`,
 * `result/msg`, `msg`.
 */
export function messageLines(root: XmlElement): string[] {
  const msg = findPath(root, 'msg')
  const resultMsg = findPath(root, 'result/msg')
  for (const m of [msg, resultMsg]) if (m && childElements(m, 'line').length) return lineTexts(m).filter(Boolean)
  for (const m of [resultMsg, msg]) {
    const text = m ? deepText(m).replace(/\s+/g, ' ').trim() : ''
    if (text) return [text]
  }
  return []
}

/** A job as `show jobs id N` reports it (reference §1.9). */
export interface JobState {
  id: string
  /** ACT, PEND, FIN … */
  status: string
  /** PEND while running, then OK or FAIL. */
  result: string
  progress?: string
  /** The firewall's messages (`details/line`). */
  details: string[]
  warnings: string[]
}

/** Reads `result/job` from a `show jobs` answer. */
export function parseJob(root: XmlElement, id: string): JobState {
  const job = findPath(root, 'result/job')
  if (!job) throw new PanosError('protocol', `the answer to "show jobs id ${id}" holds no job`)
  const field = (name: string) => textOf(findPath(job, name)).trim()
  const details = findPath(job, 'details')
  const warnings = findPath(job, 'warnings')
  return {
    id,
    status: field('status'),
    result: field('result'),
    progress: field('progress') || undefined,
    details: details ? (childElements(details, 'line').length ? lineTexts(details) : [deepText(details).trim()]).filter(Boolean) : [],
    warnings: warnings ? (childElements(warnings, 'line').length ? lineTexts(warnings) : [deepText(warnings).trim()]).filter(Boolean) : [],
  }
}
