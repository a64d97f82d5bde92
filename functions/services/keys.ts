/**
 * API keys in D1.
 *
 * A key reads `smn_<16 id characters>_<32 secret characters>` (base62). The id part finds the
 * row; the SHA-256 of the whole key is then compared in constant time with the stored hash.
 * The key itself is never stored or logged: it is returned once, by `createApiKey`.
 */
import { fromHex, sha256Hex, timingSafeEqual, toBase64 } from '../../shared/signing.ts'
import { randomBase62 } from './ids.ts'

const API_KEY_PATTERN = /^smn_([A-Za-z0-9]{16})_([A-Za-z0-9]{32})$/

/** An API key's row, without its hash. */
export interface ApiKeyRecord {
  readonly id: string
  readonly name: string
  /** Credits the key may spend; null when unmetered. */
  readonly credits: number | null
  /** Requests per minute; null means the deployment default. */
  readonly rateLimitPerMinute: number | null
  /** Edits per day; null means no daily quota. */
  readonly editsPerDay: number | null
  readonly webhookSecret: string
  readonly createdAt: string
}

interface ApiKeyRow {
  id: string
  name: string
  key_hash: string
  credits: number | null
  rate_limit_per_minute: number | null
  edits_per_day: number | null
  webhook_secret: string
  created_at: string
  revoked_at: string | null
}

/** Options of a new key. */
export interface NewApiKey {
  readonly name: string
  readonly credits?: number | null
  readonly rateLimitPerMinute?: number | null
  readonly editsPerDay?: number | null
}

/** Creates a key and returns its record with the key, which is not retrievable later. */
export async function createApiKey(
  db: D1Database,
  options: NewApiKey,
  now: Date = new Date()
): Promise<{ record: ApiKeyRecord; key: string }> {
  const idPart = randomBase62(16)
  const key = `smn_${idPart}_${randomBase62(32)}`
  const record: ApiKeyRecord = {
    id: `key_${idPart}`,
    name: options.name,
    credits: options.credits ?? null,
    rateLimitPerMinute: options.rateLimitPerMinute ?? null,
    editsPerDay: options.editsPerDay ?? null,
    webhookSecret: `whsec_${toBase64(crypto.getRandomValues(new Uint8Array(32)))}`,
    createdAt: now.toISOString(),
  }

  await db
    .prepare(
      `INSERT INTO api_keys (id, name, key_hash, credits, rate_limit_per_minute, edits_per_day,
         webhook_secret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
    )
    .bind(
      record.id,
      record.name,
      await sha256Hex(key),
      record.credits,
      record.rateLimitPerMinute,
      record.editsPerDay,
      record.webhookSecret,
      record.createdAt
    )
    .run()
  return { record, key }
}

/**
 * Finds the active key `token` names, or returns undefined for a malformed, unknown, revoked
 * or wrong key, without saying which.
 */
export async function authenticateApiKey(
  db: D1Database,
  token: string
): Promise<ApiKeyRecord | undefined> {
  const match = API_KEY_PATTERN.exec(token)
  if (!match) return undefined

  const row = await db
    .prepare('SELECT * FROM api_keys WHERE id = ?')
    .bind(`key_${match[1]}`)
    .first<ApiKeyRow>()
  const given = fromHex(await sha256Hex(token))
  const stored = fromHex(row?.key_hash ?? '')
  if (!row || !given || !stored || !timingSafeEqual(given, stored)) return undefined
  if (row.revoked_at !== null) return undefined

  return toRecord(row)
}

/** Revokes a key; returns false when no active key has that id. */
export async function revokeApiKey(
  db: D1Database,
  keyId: string,
  now: Date = new Date()
): Promise<boolean> {
  const result = await db
    .prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
    .bind(now.toISOString(), keyId)
    .run()
  return result.meta.changes === 1
}

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    credits: row.credits,
    rateLimitPerMinute: row.rate_limit_per_minute,
    editsPerDay: row.edits_per_day,
    webhookSecret: row.webhook_secret,
    createdAt: row.created_at,
  }
}
