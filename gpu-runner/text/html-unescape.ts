/**
 * HTML character reference decoding with the rules of Python's `html.unescape` (CPython 3.11),
 * which the reference CLIP tokenizer applies to every text.
 *
 * Rules, from the HTML standard's tokenizer as CPython implements them:
 * - numeric references (`&#233;`, `&#xE9;`, the `;` optional) decode to their code point,
 *   except that 0x00, 0x0D and 0x80–0x9F use the Windows-1252 replacement table, surrogates and
 *   values above U+10FFFF become U+FFFD, and noncharacters and most C0/C1 controls become "";
 * - named references use the standard's table, and a name without a match decodes its longest
 *   known prefix (`&ampx` gives `&x`, because `amp` is a legacy name valid without `;`).
 *
 * `html-entities.json` is the HTML standard's named character reference table, written from
 * CPython 3.11's `html.entities.html5` with
 * `python3 -c "import html.entities, json; print(json.dumps(html.entities.html5,
 * ensure_ascii=True, indent=2, sort_keys=True))"`. It loads on the first text that contains `&`.
 */
import { readFileSync } from 'node:fs'

const CHARACTER_REFERENCE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu

const MAX_CODE_POINT = 0x10ffff

/** Numeric references that the HTML standard maps to another character (Windows-1252 for C1). */
const NUMERIC_REPLACEMENTS: ReadonlyMap<number, string> = new Map([
  [0x00, '\ufffd'],
  [0x0d, '\r'],
  [0x80, '\u20ac'],
  [0x81, '\x81'],
  [0x82, '\u201a'],
  [0x83, '\u0192'],
  [0x84, '\u201e'],
  [0x85, '\u2026'],
  [0x86, '\u2020'],
  [0x87, '\u2021'],
  [0x88, '\u02c6'],
  [0x89, '\u2030'],
  [0x8a, '\u0160'],
  [0x8b, '\u2039'],
  [0x8c, '\u0152'],
  [0x8d, '\x8d'],
  [0x8e, '\u017d'],
  [0x8f, '\x8f'],
  [0x90, '\x90'],
  [0x91, '\u2018'],
  [0x92, '\u2019'],
  [0x93, '\u201c'],
  [0x94, '\u201d'],
  [0x95, '\u2022'],
  [0x96, '\u2013'],
  [0x97, '\u2014'],
  [0x98, '\u02dc'],
  [0x99, '\u2122'],
  [0x9a, '\u0161'],
  [0x9b, '\u203a'],
  [0x9c, '\u0153'],
  [0x9d, '\x9d'],
  [0x9e, '\u017e'],
  [0x9f, '\u0178'],
])

let namedReferences: ReadonlyMap<string, string> | undefined

/**
 * Decodes the HTML character references in `text` exactly as Python's `html.unescape` does.
 *
 * @example unescapeHtml('caf&eacute; &amp;co') // 'café &co'
 */
export function unescapeHtml(text: string): string {
  if (!text.includes('&')) return text

  return text.replace(CHARACTER_REFERENCE, (_match, reference: string) =>
    reference.startsWith('#') ? decodeNumeric(reference) : decodeNamed(reference)
  )
}

function decodeNumeric(reference: string): string {
  const isHex = reference[1] === 'x' || reference[1] === 'X'
  const digits = reference.slice(isHex ? 2 : 1).replace(/;$/, '')
  // Very long digit strings parse to Infinity or an inexact large number; both are above
  // U+10FFFF, which is all that matters for them.
  const codePoint = Number.parseInt(digits, isHex ? 16 : 10)

  const replacement = NUMERIC_REPLACEMENTS.get(codePoint)
  if (replacement !== undefined) return replacement
  if ((codePoint >= 0xd800 && codePoint <= 0xdfff) || codePoint > MAX_CODE_POINT) return '\ufffd'
  if (isDroppedCodePoint(codePoint)) return ''
  return String.fromCodePoint(codePoint)
}

/** Code points that a numeric reference may not produce: C0/C1 controls and noncharacters. */
function isDroppedCodePoint(codePoint: number): boolean {
  if (codePoint >= 0x01 && codePoint <= 0x08) return true
  if (codePoint === 0x0b) return true
  if (codePoint >= 0x0e && codePoint <= 0x1f) return true
  if (codePoint >= 0x7f && codePoint <= 0x9f) return true
  if (codePoint >= 0xfdd0 && codePoint <= 0xfdef) return true
  // U+FFFE and U+FFFF of every plane.
  return (codePoint & 0xfffe) === 0xfffe
}

function decodeNamed(reference: string): string {
  const table = loadNamedReferences()
  const exact = table.get(reference)
  if (exact !== undefined) return exact

  // Names are ASCII, so a prefix that matches never splits a surrogate pair.
  for (let length = reference.length - 1; length > 1; length--) {
    const prefix = table.get(reference.slice(0, length))
    if (prefix !== undefined) return prefix + reference.slice(length)
  }
  return '&' + reference
}

function loadNamedReferences(): ReadonlyMap<string, string> {
  if (namedReferences) return namedReferences

  const parsed: unknown = JSON.parse(
    readFileSync(new URL('./html-entities.json', import.meta.url), 'utf8')
  )
  if (typeof parsed !== 'object' || parsed === null) {
    throw new TypeError('html-entities.json must contain an object of name → text')
  }
  namedReferences = new Map(
    Object.entries(parsed).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string'
    )
  )
  return namedReferences
}
