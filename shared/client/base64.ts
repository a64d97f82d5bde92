/**
 * Base64 encoding of large byte arrays with web-standard APIs only, so it runs in browsers, on
 * Workers and on Node.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const ALPHABET_CODES = Uint8Array.from(ALPHABET, (character) => character.charCodeAt(0))
const PADDING_CODE = '='.charCodeAt(0)

/**
 * Encodes bytes as standard base64 with padding (RFC 4648 section 4).
 *
 * Writes the ASCII codes into one byte array and decodes that once, so a 5 MB image takes tens
 * of milliseconds, where building a string one character at a time takes about a second.
 */
export function encodeBase64(bytes: Uint8Array): string {
  const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4)
  const wholeEnd = bytes.length - (bytes.length % 3)
  let o = 0

  for (let i = 0; i < wholeEnd; i += 3) {
    const triple = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out[o++] = ALPHABET_CODES[triple >> 18]!
    out[o++] = ALPHABET_CODES[(triple >> 12) & 63]!
    out[o++] = ALPHABET_CODES[(triple >> 6) & 63]!
    out[o++] = ALPHABET_CODES[triple & 63]!
  }

  const rest = bytes.length - wholeEnd
  if (rest > 0) {
    const first = bytes[wholeEnd]!
    const second = rest === 2 ? bytes[wholeEnd + 1]! : 0
    out[o++] = ALPHABET_CODES[first >> 2]!
    out[o++] = ALPHABET_CODES[((first & 3) << 4) | (second >> 4)]!
    out[o++] = rest === 2 ? ALPHABET_CODES[(second & 15) << 2]! : PADDING_CODE
    out[o++] = PADDING_CODE
  }
  // Every code is ASCII, which UTF-8 decodes one byte to one character.
  return new TextDecoder().decode(out)
}
