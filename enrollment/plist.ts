/**
 * XML property list writer (Apple's PropertyList-1.0 DTD) for configuration
 * profiles.
 *
 * Why not the `plist` package's `build`: the bytes of a profile are part of
 * kagi's golden tests and of a CMS signature, so the output must not change
 * with a dependency's formatting; and a profile needs `<integer>` where the
 * schema says integer (PayloadVersion), which a JS number cannot tell from a
 * real. This writer is small: dictionaries with keys sorted (as Apple's tools
 * write them), Buffers as `<data>`, integers only, tabs for indentation.
 */

/** A value a profile can hold. Numbers must be integers (`<integer>`). */
export type PlistValue = string | number | boolean | Buffer | readonly PlistValue[] | PlistDict

/** A plist dictionary; keys are written sorted. */
export interface PlistDict {
  readonly [key: string]: PlistValue
}

// XML 1.0 §2.2 Char: no C0 controls but tab/LF/CR, no U+FFFE/U+FFFF, no lone surrogates.
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** Escapes text for element content; throws on characters XML 1.0 cannot carry. */
function text(value: string): string {
  if (NOT_XML.test(value)) throw new Error('a property list string contains a character XML cannot represent')
  // A literal CR would be normalised to LF by the XML parser (XML 1.0 §2.11); a character reference survives.
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;')
}

function write(value: PlistValue, depth: number, out: string[]): void {
  const pad = '\t'.repeat(depth)
  if (typeof value === 'string') out.push(`${pad}<string>${text(value)}</string>`)
  else if (typeof value === 'boolean') out.push(`${pad}<${value}/>`)
  else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`only integers are written to property lists, not ${value}`)
    out.push(`${pad}<integer>${value}</integer>`)
  } else if (Buffer.isBuffer(value)) {
    // Base64 in lines of 68 characters; whitespace inside <data> is ignored by every reader.
    out.push(`${pad}<data>`)
    for (const line of value.toString('base64').match(/.{1,68}/g) ?? []) out.push(`${pad}${line}`)
    out.push(`${pad}</data>`)
  } else if (Array.isArray(value)) {
    if (value.length === 0) return void out.push(`${pad}<array/>`)
    out.push(`${pad}<array>`)
    for (const item of value as readonly PlistValue[]) write(item, depth + 1, out)
    out.push(`${pad}</array>`)
  } else {
    const dict = value as PlistDict
    const keys = Object.keys(dict).sort()
    if (keys.length === 0) return void out.push(`${pad}<dict/>`)
    out.push(`${pad}<dict>`)
    for (const key of keys) {
      out.push(`${pad}\t<key>${text(key)}</key>`)
      write(dict[key]!, depth + 1, out)
    }
    out.push(`${pad}</dict>`)
  }
}

/** Serialises `root` as an XML plist document, UTF-8, LF line ends, trailing newline. */
export function buildPlist(root: PlistDict): Buffer {
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
  ]
  write(root, 0, out)
  out.push('</plist>', '')
  return Buffer.from(out.join('\n'), 'utf8')
}
