/** Random identifiers and secrets from the platform's CSPRNG. */

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

// 248 = 4 × 62: bytes at or above it are dropped, so every character is equally likely.
const UNBIASED_BYTE_LIMIT = 248

/** Returns `length` uniformly random base62 characters. */
export function randomBase62(length: number): string {
  let out = ''
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte >= UNBIASED_BYTE_LIMIT) continue
      out += BASE62[byte % 62]
      if (out.length === length) break
    }
  }
  return out
}

/** Returns a new edit id, `edt_` and 24 base62 characters (about 143 random bits). */
export function newEditId(): string {
  return `edt_${randomBase62(24)}`
}

/** Returns a new upload id, `upl_` and 24 base62 characters. */
export function newUploadId(): string {
  return `upl_${randomBase62(24)}`
}
