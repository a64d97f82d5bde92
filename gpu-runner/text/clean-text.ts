/**
 * Text cleanup before CLIP tokenization, as openai/CLIP `simple_tokenizer.py` does it:
 * HTML unescaping twice, whitespace collapsing, stripping and lowercasing.
 *
 * The reference also runs `ftfy.fix_text` (mojibake repair) first. This module does not,
 * so text with broken encodings such as "cafÃ©" tokenizes as it is written.
 */
import { unescapeHtml } from './html-unescape.ts'

/** Runs of characters that Python's `regex` module matches with `\s` (Unicode White_Space). */
const WHITESPACE_RUN = /\p{White_Space}+/gu

/**
 * Leading or trailing characters that Python's `str.strip()` removes: Unicode White_Space
 * plus U+001C–U+001F, which `str.isspace()` also counts as whitespace.
 */
const EDGE_WHITESPACE = /^[\p{White_Space}\x1c-\x1f]+|[\p{White_Space}\x1c-\x1f]+$/gu

/** Cleans `text` the way the reference tokenizer does before splitting it into words. */
export function cleanClipText(text: string): string {
  const unescaped = stripPython(unescapeHtml(unescapeHtml(text)))
  const collapsed = stripPython(unescaped.replace(WHITESPACE_RUN, ' '))
  return collapsed.toLowerCase()
}

function stripPython(text: string): string {
  return text.replace(EDGE_WHITESPACE, '')
}
