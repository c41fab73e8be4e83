/**
 * What text every bundle format can carry: an XML property list (XML 1.0
 * §2.2 Char excludes C0 controls, U+FFFE/U+FFFF and lone surrogates), a
 * PowerShell single-quoted string and `#` comment (a line or paragraph
 * separator ends the line), ONC JSON (RFC 8259 needs valid Unicode), and a
 * certificate's UTF8String. Also refused: U+FFFD, which is what a decoder
 * left of bytes that were not UTF-8 (the name is not what was sent), and
 * bidirectional overrides and isolates, which make a name display as
 * something else (CVE-2021-42574, "Trojan Source"). The input schemas in src/schemas use this one rule, so a name
 * is refused before anything is issued rather than when a bundle is built.
 */

/** True for a UTF-16 code unit (or code point) that no bundle may carry. */
function unsafe(code: number): boolean {
  return (
    code < 0x20 || // C0 controls, NUL included (PostgreSQL text cannot hold NUL)
    (code >= 0x7f && code <= 0x9f) || // DEL and C1 controls
    code === 0x2028 ||
    code === 0x2029 || // line and paragraph separators
    (code >= 0x202a && code <= 0x202e) || // bidi embeddings and overrides
    (code >= 0x2066 && code <= 0x2069) || // bidi isolates
    code === 0xfeff || // byte order mark / zero-width no-break space
    code === 0xfffd || // the replacement character: what a decoder leaves of bytes that were not UTF-8
    (code >= 0xfdd0 && code <= 0xfdef) ||
    code === 0xfffe ||
    code === 0xffff // Unicode noncharacters
  )
}

/**
 * The first character of `text` that no bundle can carry, as "U+XXXX", or
 * undefined when the text is safe. Lone surrogates count as unsafe: they are
 * not Unicode text at all.
 */
export function unsafeCharacter(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++
        continue
      }
      return codePoint(code)
    }
    if ((code >= 0xdc00 && code <= 0xdfff) || unsafe(code)) return codePoint(code)
  }
  return undefined
}

const codePoint = (code: number): string => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`
