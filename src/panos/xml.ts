/**
 * A small, strict XML reader and writer for the subset the PAN-OS XML API
 * speaks: elements, attributes (with either quote and spaces around `=`, as in
 * PAN-OS's `<response status = 'error' code = '400'>`), text, CDATA, comments,
 * processing instructions and the five predefined plus numeric entities.
 * Document type declarations are refused: PAN-OS never sends one, and
 * refusing them rules out entity-expansion attacks.
 */

/** An element; text children are plain strings. */
export interface XmlElement {
  name: string
  attributes: Record<string, string>
  children: XmlNode[]
}

/** A child of an element: another element or a run of text. */
export type XmlNode = XmlElement | string

/** The document is not well-formed (or uses a feature this reader refuses). */
export class XmlParseError extends Error {
  override name = 'XmlParseError'
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_.:]*/y
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }
const MAX_DEPTH = 256

/** True for element nodes. */
export const isElement = (node: XmlNode): node is XmlElement => typeof node !== 'string'

/** Builds an element. */
export function element(name: string, attributes: Record<string, string> = {}, children: XmlNode[] = []): XmlElement {
  return { name, attributes, children }
}

function decodeEntities(text: string, at: number): string {
  return text.replace(/&([^;&\s]*);?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) throw new XmlParseError(`bare "&" in text near offset ${at}`)
    if (ref in ENTITIES) return ENTITIES[ref]!
    const m = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(ref)
    const code = m ? parseInt(m[1] ?? m[2]!, m[1] ? 16 : 10) : NaN
    if (!(code > 0 && code <= 0x10ffff)) throw new XmlParseError(`unknown entity &${ref}; near offset ${at}`)
    return String.fromCodePoint(code)
  })
}

class Reader {
  pos = 0
  constructor(readonly text: string) {}

  fail(what: string): never {
    throw new XmlParseError(`${what} at offset ${this.pos}`)
  }

  skipSpace(): void {
    while (/\s/.test(this.text[this.pos] ?? '')) this.pos++
  }

  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos)
  }

  skipPast(end: string, what: string): string {
    const i = this.text.indexOf(end, this.pos)
    if (i < 0) this.fail(`unterminated ${what}`)
    const body = this.text.slice(this.pos, i)
    this.pos = i + end.length
    return body
  }

  name(): string {
    NAME.lastIndex = this.pos
    const m = NAME.exec(this.text)
    if (!m) this.fail('expected a name')
    this.pos += m[0].length
    return m[0]
  }

  /** Skips comments, processing instructions and whitespace; refuses DOCTYPE. */
  skipMisc(): void {
    for (;;) {
      this.skipSpace()
      if (this.startsWith('<!--')) this.skipPast('-->', 'comment')
      else if (this.startsWith('<?')) this.skipPast('?>', 'processing instruction')
      else if (this.startsWith('<!')) this.fail('document type declarations are not accepted')
      else return
    }
  }

  element(depth: number): XmlElement {
    if (depth > MAX_DEPTH) this.fail('elements nested too deeply')
    if (this.text[this.pos] !== '<') this.fail('expected "<"')
    this.pos++
    const node = element(this.name())
    for (;;) {
      const before = this.pos
      this.skipSpace()
      if (this.startsWith('/>')) {
        this.pos += 2
        return node
      }
      if (this.text[this.pos] === '>') break
      if (this.pos === before) this.fail('expected whitespace before an attribute')
      const attr = this.name()
      this.skipSpace()
      if (this.text[this.pos] !== '=') this.fail(`expected "=" after attribute ${attr}`)
      this.pos++
      this.skipSpace()
      const quote = this.text[this.pos]
      if (quote !== '"' && quote !== "'") this.fail(`expected a quoted value for attribute ${attr}`)
      this.pos++
      const at = this.pos
      const raw = this.skipPast(quote, 'attribute value')
      if (raw.includes('<')) this.fail(`"<" in attribute ${attr}`)
      if (attr in node.attributes) this.fail(`duplicate attribute ${attr}`)
      node.attributes[attr] = decodeEntities(raw, at)
    }
    this.pos++
    this.content(node, depth)
    return node
  }

  content(node: XmlElement, depth: number): void {
    for (;;) {
      const lt = this.text.indexOf('<', this.pos)
      if (lt < 0) this.fail(`unclosed element <${node.name}>`)
      if (lt > this.pos) node.children.push(decodeEntities(this.text.slice(this.pos, lt), this.pos))
      this.pos = lt
      if (this.startsWith('</')) {
        this.pos += 2
        const name = this.name()
        if (name !== node.name) this.fail(`</${name}> closes <${node.name}>`)
        this.skipSpace()
        if (this.text[this.pos] !== '>') this.fail('expected ">"')
        this.pos++
        normalize(node)
        return
      }
      if (this.startsWith('<![CDATA[')) {
        this.pos += 9
        node.children.push(this.skipPast(']]>', 'CDATA section'))
      } else if (this.startsWith('<!--')) this.skipPast('-->', 'comment')
      else if (this.startsWith('<?')) this.skipPast('?>', 'processing instruction')
      else if (this.startsWith('<!')) this.fail('unexpected markup declaration')
      else node.children.push(this.element(depth + 1))
    }
  }
}

/** Joins adjacent text runs and drops whitespace-only text between child elements. */
function normalize(node: XmlElement): void {
  const merged: XmlNode[] = []
  for (const child of node.children) {
    const last = merged[merged.length - 1]
    if (typeof child === 'string' && typeof last === 'string') merged[merged.length - 1] = last + child
    else merged.push(child)
  }
  node.children = merged.some(isElement) ? merged.filter((c) => isElement(c) || c.trim() !== '') : merged
}

/** Parses a document and returns its root element. Throws XmlParseError. */
export function parseXml(text: string): XmlElement {
  const reader = new Reader(text.replace(/^\uFEFF/, ''))
  reader.skipMisc()
  const root = reader.element(0)
  reader.skipMisc()
  if (reader.pos !== reader.text.length) reader.fail('content after the root element')
  return root
}

/** Escapes text for an element body or a double-quoted attribute value. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)
}

/** Writes a node back as XML text (no declaration, no indentation). */
export function serializeXml(node: XmlNode): string {
  if (typeof node === 'string') return escapeXml(node)
  const attrs = Object.entries(node.attributes).map(([k, v]) => ` ${k}="${escapeXml(v)}"`).join('')
  if (node.children.length === 0) return `<${node.name}${attrs}/>`
  return `<${node.name}${attrs}>${node.children.map(serializeXml).join('')}</${node.name}>`
}

/** Child elements, optionally only those named `name`. */
export function childElements(node: XmlElement, name?: string): XmlElement[] {
  return node.children.filter((c): c is XmlElement => isElement(c) && (name === undefined || c.name === name))
}

/** Follows a path of child names ("result/job/status"); undefined when a step is missing. */
export function findPath(node: XmlElement | undefined, path: string): XmlElement | undefined {
  let current = node
  for (const step of path.split('/')) current = current && childElements(current, step)[0]
  return current
}

/** The text directly inside an element (its text and CDATA children, joined). */
export function textOf(node: XmlElement | undefined): string {
  return node ? node.children.filter((c): c is string => typeof c === 'string').join('') : ''
}

/** A deep copy of an element. */
export function cloneElement(node: XmlElement): XmlElement {
  return element(node.name, { ...node.attributes }, node.children.map((c) => (typeof c === 'string' ? c : cloneElement(c))))
}
