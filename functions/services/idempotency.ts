/**
 * `Idempotency-Key` on `POST /v1/edits`. The same key with the same request returns the edit
 * the first request created, and the same key with a different request is a `conflict`.
 *
 * A request's fingerprint is the SHA-256 of its edits, its settings after defaults, the input
 * image's SHA-256 and its webhook URL. So the same photo sent once as multipart and once as
 * base64 counts as the same request. Keys are remembered for `IDEMPOTENCY_TTL_S` per API key.
 */
import { ApiProblem } from '../../shared/problems.ts'
import type { EditSettings, EditStep } from '../../shared/schemas/edit-settings.ts'
import { sha256Hex } from '../../shared/signing.ts'

/** How long an idempotency key is remembered. */
export const IDEMPOTENCY_TTL_S = 24 * 3600

/** Longest accepted Idempotency-Key value, in characters. */
export const MAX_IDEMPOTENCY_KEY_CHARS = 255

/** Checks an `Idempotency-Key` header value and returns it, or undefined when absent. */
export function readIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const value = header.trim()
  if (
    value.length === 0 ||
    value.length > MAX_IDEMPOTENCY_KEY_CHARS ||
    /[^\x21-\x7e]/.test(value)
  ) {
    throw new ApiProblem(
      'invalid-request',
      `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters; a UUID works.`
    )
  }
  return value
}

/** Computes the fingerprint of an edit request. */
export async function fingerprintEditRequest(request: {
  edits: readonly EditStep[]
  settings: EditSettings
  imageSha256: string
  webhookUrl: string | null
}): Promise<string> {
  const settings = Object.fromEntries(
    Object.entries(request.settings).sort(([a], [b]) => a.localeCompare(b))
  )
  return sha256Hex(
    JSON.stringify([request.edits, settings, request.imageSha256, request.webhookUrl])
  )
}

/** The edit an idempotency key already belongs to. */
export interface IdempotencyHit {
  readonly editId: string
  readonly fingerprint: string
}

/** Looks up a live idempotency key, deleting it first when it has expired. */
export async function findIdempotencyKey(
  db: D1Database,
  options: { keyId: string; idempotencyKey: string; now: Date }
): Promise<IdempotencyHit | undefined> {
  const { keyId, idempotencyKey, now } = options
  const cutoff = new Date(now.getTime() - IDEMPOTENCY_TTL_S * 1000).toISOString()

  await db
    .prepare(
      'DELETE FROM idempotency_keys WHERE key_id = ? AND idempotency_key = ? AND created_at < ?'
    )
    .bind(keyId, idempotencyKey, cutoff)
    .run()
  const row = await db
    .prepare(
      'SELECT edit_id, fingerprint FROM idempotency_keys WHERE key_id = ? AND idempotency_key = ?'
    )
    .bind(keyId, idempotencyKey)
    .first<{ edit_id: string; fingerprint: string }>()
  return row ? { editId: row.edit_id, fingerprint: row.fingerprint } : undefined
}

/**
 * Builds the INSERT that records an idempotency key for a new edit. It inserts nothing when the
 * edit row is absent, because the edit's own INSERT found no credit. A concurrent request with
 * the same key makes the batch fail on the primary key, and the caller then reads the winner's
 * row.
 */
export function insertIdempotencyKeyStatement(
  db: D1Database,
  options: { keyId: string; idempotencyKey: string; fingerprint: string; editId: string; now: Date }
): D1PreparedStatement {
  const { keyId, idempotencyKey, fingerprint, editId, now } = options
  return db
    .prepare(
      `INSERT INTO idempotency_keys (key_id, idempotency_key, fingerprint, edit_id, created_at)
       SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM edits WHERE id = ?)`
    )
    .bind(keyId, idempotencyKey, fingerprint, editId, now.toISOString(), editId)
}

/** Returns the existing edit's id for a matching fingerprint, or throws `conflict`. */
export function resolveIdempotencyHit(hit: IdempotencyHit, fingerprint: string): string {
  if (hit.fingerprint === fingerprint) return hit.editId
  throw new ApiProblem(
    'conflict',
    'This Idempotency-Key was already used with a different request body. Use a new key for a ' +
      'new request, or resend the original body unchanged.',
    { members: { edit_id: hit.editId } }
  )
}
