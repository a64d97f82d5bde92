/**
 * HMAC-SHA256 signing: worker-served blob URLs, the `Semani-Signature` header of the webhooks the
 * API sends, and the Standard Webhooks scheme of the webhooks it receives from runners and
 * Replicate. WebCrypto only, so the same code runs in Workers and in Node 20.
 *
 * Every comparison of a received signature with a computed one goes through `timingSafeEqual`,
 * so the time taken does not reveal how many leading bytes matched.
 */

const encoder = new TextEncoder()

// WebCrypto takes views of an ArrayBuffer only; a view of a SharedArrayBuffer is copied first.
function toBufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? (bytes as Uint8Array<ArrayBuffer>)
    : new Uint8Array(bytes)
}

/** Key bytes or a UTF-8 string used as the key. */
export type HmacKey = Uint8Array | string

/** Computes HMAC-SHA256 of `message` (UTF-8) under `key`. */
export async function hmacSha256(key: HmacKey, message: string): Promise<Uint8Array> {
  const keyBytes = typeof key === 'string' ? encoder.encode(key) : key
  const cryptoKey = await crypto.subtle.importKey(
    'raw',
    toBufferSource(keyBytes),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign']
  )
  return new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, encoder.encode(message)))
}

/** Computes the SHA-256 digest of `data` (bytes, or a string as UTF-8) as lowercase hex. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', toBufferSource(bytes))))
}

/**
 * Compares two byte strings in time that depends only on their lengths.
 *
 * Signatures have a fixed length, so returning early on a length mismatch reveals nothing.
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false

  let difference = 0
  for (let i = 0; i < a.byteLength; i++) difference |= (a[i] ?? 0) ^ (b[i] ?? 0)
  return difference === 0
}

/** Encodes bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

/** Decodes lowercase or uppercase hex; returns undefined for anything that is not hex. */
export function fromHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined

  const bytes = new Uint8Array(text.length / 2)
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16)
  return bytes
}

/** Encodes bytes as standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary)
}

/** Encodes bytes as base64url without padding (RFC 4648 section 5). */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

// Sextet value of each base64 character, both alphabets; 64 marks whitespace, 255 invalid.
const BASE64_VALUES = (() => {
  const table = new Uint8Array(256).fill(255)
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i
  table['+'.charCodeAt(0)] = table['-'.charCodeAt(0)] = 62
  table['/'.charCodeAt(0)] = table['_'.charCodeAt(0)] = 63
  for (const space of ' \t\r\n') table[space.charCodeAt(0)] = 64
  return table
})()

/**
 * Decodes standard or url-safe base64, padded or not, ignoring whitespace; returns undefined
 * when the text is not base64. A table lookup per character keeps a 1 MB image to a few
 * milliseconds, where `atob` and a per-character copy took over 100 ms in Node 20.
 */
export function fromBase64(text: string): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((text.length * 3) / 4) + 3)
  let length = 0
  let buffer = 0
  let bits = 0
  let padding = 0

  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === 61 /* = */) {
      padding++
      continue
    }
    const value = code < 256 ? (BASE64_VALUES[code] ?? 255) : 255
    if (value === 64) continue
    if (value === 255 || padding > 0) return undefined
    buffer = (buffer << 6) | value
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[length++] = (buffer >> bits) & 0xff
    }
  }
  // One leftover character (6 bits) cannot end a base64 string, nor can more than 2 '='.
  if (bits >= 6 || padding > 2) return undefined
  return out.slice(0, length)
}

/** One object, one method, one expiry: what a signed blob URL allows. */
export interface BlobGrant {
  readonly key: string
  readonly method: 'GET' | 'PUT'
  /** Unix time in seconds after which the URL stops working. */
  readonly expiresAtS: number
}

/** Outcome of checking a blob URL's signature. */
export type BlobGrantCheck = 'valid' | 'expired' | 'invalid'

// Version prefix, so a later scheme cannot be confused with this one.
const BLOB_GRANT_VERSION = 'semani-blob-v1'

/** Signs a blob grant; the result is base64url and goes into the URL's `sig` parameter. */
export async function signBlobGrant(secret: HmacKey, grant: BlobGrant): Promise<string> {
  return toBase64Url(await hmacSha256(secret, blobGrantMessage(grant)))
}

/**
 * Checks a blob URL's signature and expiry.
 *
 * The signature is checked first, so a tampered URL is `invalid` whatever its expiry.
 */
export async function verifyBlobGrant(
  secret: HmacKey,
  grant: BlobGrant,
  signature: string,
  nowS: number
): Promise<BlobGrantCheck> {
  const given = fromBase64(signature)
  if (given === undefined) return 'invalid'

  const expected = await hmacSha256(secret, blobGrantMessage(grant))
  if (!timingSafeEqual(given, expected)) return 'invalid'
  return nowS > grant.expiresAtS ? 'expired' : 'valid'
}

function blobGrantMessage(grant: BlobGrant): string {
  return [BLOB_GRANT_VERSION, grant.method, grant.key, String(grant.expiresAtS)].join('\n')
}

/** Seconds a webhook timestamp may differ from the receiver's clock (Standard Webhooks value). */
export const WEBHOOK_TOLERANCE_S = 300

/**
 * Builds the `Semani-Signature` header value `t=<unix seconds>,v1=<hex>` for a webhook body.
 *
 * `v1` is HMAC-SHA256 under the receiver's webhook secret of `<t>.<body>`, the raw body as sent.
 *
 * @example
 * const header = await signPayload({ secret, body, timestampS: Math.floor(Date.now() / 1000) })
 */
export async function signPayload(options: {
  secret: HmacKey
  body: string
  timestampS: number
}): Promise<string> {
  const { secret, body, timestampS } = options
  const mac = await hmacSha256(secret, `${timestampS}.${body}`)
  return `t=${timestampS},v1=${toHex(mac)}`
}

/** Outcome of checking a received webhook. */
export type WebhookCheck =
  | { readonly ok: true; readonly timestampS: number }
  | { readonly ok: false; readonly reason: 'malformed' | 'stale' | 'mismatch' }

/**
 * Checks a `Semani-Signature` header against the raw body: any `v1` entry may match, and the
 * timestamp must be within `toleranceS` of `nowS`.
 */
export async function verifyPayload(options: {
  secret: HmacKey
  body: string
  header: string | null | undefined
  nowS: number
  toleranceS?: number
}): Promise<WebhookCheck> {
  const { secret, body, header, nowS, toleranceS = WEBHOOK_TOLERANCE_S } = options
  const entries = (header ?? '').split(',').map((part) => part.trim().split('='))
  const timestampS = Number(entries.find(([name]) => name === 't')?.[1])
  const signatures = entries.filter(([name]) => name === 'v1').map(([, value]) => value ?? '')
  if (!Number.isInteger(timestampS) || signatures.length === 0) {
    return { ok: false, reason: 'malformed' }
  }
  if (Math.abs(nowS - timestampS) > toleranceS) return { ok: false, reason: 'stale' }

  const expected = await hmacSha256(secret, `${timestampS}.${body}`)
  const matched = signatures.some((hex) =>
    timingSafeEqual(fromHex(hex) ?? new Uint8Array(), expected)
  )
  return matched ? { ok: true, timestampS } : { ok: false, reason: 'mismatch' }
}

/**
 * Decodes a Standard Webhooks secret: `whsec_` followed by the base64 key bytes.
 *
 * @throws TypeError when the secret has no `whsec_` prefix or the rest is not base64.
 */
export function decodeWebhookSecret(secret: string): Uint8Array {
  const bytes = secret.startsWith('whsec_') ? fromBase64(secret.slice('whsec_'.length)) : undefined
  if (bytes === undefined || bytes.byteLength === 0) {
    throw new TypeError('A Standard Webhooks secret is "whsec_" followed by base64 key bytes.')
  }
  return bytes
}

/** Headers of one Standard Webhooks delivery. */
export interface StandardWebhookHeaders {
  readonly id: string
  readonly timestamp: string
  /** Space-separated `v1,<base64>` entries; any one may match. */
  readonly signature: string
}

/**
 * Signs a delivery with the Standard Webhooks scheme: base64 HMAC-SHA256 of
 * `<webhook-id>.<webhook-timestamp>.<body>` under the decoded `whsec_` key, sent as `v1,<base64>`.
 */
export async function signStandardWebhook(options: {
  secret: string
  id: string
  timestampS: number
  body: string
}): Promise<StandardWebhookHeaders> {
  const { secret, id, timestampS, body } = options
  const mac = await hmacSha256(decodeWebhookSecret(secret), `${id}.${timestampS}.${body}`)
  return { id, timestamp: String(timestampS), signature: `v1,${toBase64(mac)}` }
}

/** Checks a Standard Webhooks delivery against its raw body, its headers and the clock. */
export async function verifyStandardWebhook(options: {
  secret: string
  headers: Partial<StandardWebhookHeaders>
  body: string
  nowS: number
  toleranceS?: number
}): Promise<WebhookCheck> {
  const { secret, headers, body, nowS, toleranceS = WEBHOOK_TOLERANCE_S } = options
  const timestampS = Number(headers.timestamp)
  if (!headers.id || !headers.signature || !Number.isInteger(timestampS)) {
    return { ok: false, reason: 'malformed' }
  }
  if (Math.abs(nowS - timestampS) > toleranceS) return { ok: false, reason: 'stale' }

  const signed = `${headers.id}.${timestampS}.${body}`
  const expected = await hmacSha256(decodeWebhookSecret(secret), signed)
  const matched = headers.signature
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .some((entry) => timingSafeEqual(fromBase64(entry.slice(3)) ?? new Uint8Array(), expected))
  return matched ? { ok: true, timestampS } : { ok: false, reason: 'mismatch' }
}
