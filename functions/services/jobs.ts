/**
 * Edit jobs in D1.
 *
 * Lifecycle: `queued` (row created, dispatch message sent) → `running` (a runner attempt
 * started; each attempt increments `attempts`) → `succeeded`, `failed` or `canceled`. A
 * finished edit never changes again: every transition is an UPDATE guarded by the current
 * status, and a completion also names its attempt, so a duplicated or late runner callback
 * changes nothing. The success transition and the usage-ledger row go in one D1 batch, and the
 * ledger's primary key on the edit id makes the charge happen at most once.
 */
import type { EditSettings, EditStep } from '../../shared/schemas/edit-settings.ts'
import type { ImageFormat } from '../../shared/limits.ts'
import type { EditJob, EditStatus } from '../../shared/schemas/api.ts'
import type { ProblemBody } from '../../shared/problems.ts'
import type { PredictionOutput } from '../../shared/schemas/prediction.ts'
import { signalEditFinished } from './edit-signals.ts'

/** Outputs of a succeeded attempt, as stored in `result_json`. */
export interface EditResultRecord {
  readonly imageKey: string
  readonly maskKey: string
  readonly output: Omit<PredictionOutput, 'image' | 'mask'>
  /** Time the runner spent on the prediction, from its own timestamps, when it reports them. */
  readonly runnerMs?: number
}

/** One edit job. */
export interface EditRecord {
  readonly id: string
  readonly keyId: string
  readonly status: EditStatus
  readonly edits: readonly EditStep[]
  readonly settings: EditSettings
  readonly input: {
    readonly sha256: string
    readonly format: ImageFormat
    readonly width: number
    readonly height: number
    readonly sizeBytes: number
  }
  readonly units: number
  readonly webhookUrl: string | null
  readonly maskCacheKey: string | null
  readonly maskCache: 'hit' | 'miss' | null
  readonly attempts: number
  readonly predictionId: string | null
  readonly result: EditResultRecord | null
  readonly error: EditJob['error']
  readonly lastError: string | null
  readonly requestId: string | null
  readonly createdAt: string
  readonly startedAt: string | null
  readonly completedAt: string | null
}

/** Fields of a new edit; the rest start empty. */
export type NewEdit = Pick<
  EditRecord,
  | 'id'
  | 'keyId'
  | 'edits'
  | 'settings'
  | 'input'
  | 'units'
  | 'webhookUrl'
  | 'maskCacheKey'
  | 'requestId'
>

interface EditRow {
  id: string
  key_id: string
  status: EditStatus
  edits_json: string
  settings_json: string
  input_sha256: string
  input_format: ImageFormat
  input_width: number
  input_height: number
  input_size_bytes: number
  units: number
  webhook_url: string | null
  mask_cache_key: string | null
  mask_cache: 'hit' | 'miss' | null
  attempts: number
  prediction_id: string | null
  result_json: string | null
  error_json: string | null
  last_error: string | null
  request_id: string | null
  created_at: string
  started_at: string | null
  completed_at: string | null
}

const OPEN = `status IN ('queued', 'running')`

/**
 * Builds the INSERT of a new queued edit that only takes effect while the key has credit for it:
 * total credits (NULL for unmetered) minus units charged minus units of open edits must cover
 * `units`. D1 runs one statement at a time, so two concurrent requests cannot both spend the
 * last credit. The statement changes 0 rows when the credit is short.
 */
export function insertEditStatement(db: D1Database, edit: NewEdit, now: Date): D1PreparedStatement {
  const at = now.toISOString()
  return db
    .prepare(
      `INSERT INTO edits (id, key_id, status, edits_json, settings_json, input_sha256,
         input_format, input_width, input_height, input_size_bytes, units, webhook_url,
         mask_cache_key, request_id, created_at, updated_at)
       SELECT ?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14
       FROM api_keys k
       WHERE k.id = ?2 AND (k.credits IS NULL OR k.credits
         - (SELECT COALESCE(SUM(units), 0) FROM usage_ledger WHERE key_id = ?2)
         - (SELECT COALESCE(SUM(units), 0) FROM edits WHERE key_id = ?2 AND ${OPEN}) >= ?10)`
    )
    .bind(
      edit.id,
      edit.keyId,
      JSON.stringify(edit.edits),
      JSON.stringify(edit.settings),
      edit.input.sha256,
      edit.input.format,
      edit.input.width,
      edit.input.height,
      edit.input.sizeBytes,
      edit.units,
      edit.webhookUrl,
      edit.maskCacheKey,
      edit.requestId,
      at
    )
}

/** Reads an edit, or returns undefined when it does not exist. */
export async function findEdit(db: D1Database, id: string): Promise<EditRecord | undefined> {
  const row = await db.prepare('SELECT * FROM edits WHERE id = ?').bind(id).first<EditRow>()
  return row ? toRecord(row) : undefined
}

/**
 * Starts the next runner attempt of an open edit and returns its number (1 for the first), or
 * undefined when the edit is finished or gone.
 */
export async function startAttempt(
  db: D1Database,
  id: string,
  now: Date
): Promise<number | undefined> {
  const at = now.toISOString()
  const row = await db
    .prepare(
      `UPDATE edits SET status = 'running', attempts = attempts + 1,
         started_at = COALESCE(started_at, ?), updated_at = ?
       WHERE id = ? AND ${OPEN} RETURNING attempts`
    )
    .bind(at, at, id)
    .first<{ attempts: number }>()
  return row?.attempts
}

/** Records the runner's prediction id of the current attempt. */
export async function recordPredictionId(
  db: D1Database,
  options: { id: string; attempt: number; predictionId: string; maskCache: 'hit' | 'miss' | null }
): Promise<void> {
  await db
    .prepare(
      `UPDATE edits SET prediction_id = ?, mask_cache = ?, updated_at = ?
       WHERE id = ? AND attempts = ? AND ${OPEN}`
    )
    .bind(
      options.predictionId,
      options.maskCache,
      new Date().toISOString(),
      options.id,
      options.attempt
    )
    .run()
}

/** Records why the last attempt failed in a way a retry may fix; the edit stays open. */
export async function recordAttemptError(
  db: D1Database,
  id: string,
  message: string
): Promise<void> {
  await db
    .prepare(`UPDATE edits SET last_error = ?, updated_at = ? WHERE id = ? AND ${OPEN}`)
    .bind(message.slice(0, 500), new Date().toISOString(), id)
    .run()
}

/**
 * Marks attempt `attempt` of an open edit succeeded and charges its units once.
 *
 * @returns true when this call made the transition. False means the edit was already finished
 *   or the attempt is no longer the current one: a duplicated or late delivery.
 */
export async function completeEdit(
  db: D1Database,
  options: { id: string; attempt: number; result: EditResultRecord; now: Date }
): Promise<boolean> {
  const { id, attempt, result, now } = options
  const at = now.toISOString()
  const maskCache = result.output.mask_from_cache ? 'hit' : 'miss'

  const [update] = await db.batch([
    db
      .prepare(
        `UPDATE edits SET status = 'succeeded', result_json = ?, mask_cache = ?, error_json = NULL,
           completed_at = ?, updated_at = ?
         WHERE id = ? AND attempts = ? AND ${OPEN}`
      )
      .bind(JSON.stringify(result), maskCache, at, at, id, attempt),
    db
      .prepare(
        `INSERT OR IGNORE INTO usage_ledger (edit_id, key_id, units, created_at)
         SELECT id, key_id, units, ? FROM edits WHERE id = ? AND status = 'succeeded'`
      )
      .bind(at, id),
  ])
  const changed = (update?.meta.changes ?? 0) === 1
  if (changed) signalEditFinished(id)
  return changed
}

/**
 * Marks an open edit failed (or canceled) with the problem the caller will see; failed edits
 * cost nothing. With `attempt`, only that attempt may finish the edit.
 *
 * @returns true when this call made the transition.
 */
export async function finishEditWithProblem(
  db: D1Database,
  options: {
    id: string
    problem: ProblemBody
    attempt?: number
    status?: 'failed' | 'canceled'
    now: Date
  }
): Promise<boolean> {
  const { id, problem, attempt, status = 'failed', now } = options
  const at = now.toISOString()
  const attemptGuard = attempt === undefined ? '' : 'AND attempts = ?'
  const bindings = attempt === undefined ? [id] : [id, attempt]

  const result = await db
    .prepare(
      `UPDATE edits SET status = ?, error_json = ?, completed_at = ?, updated_at = ?
       WHERE id = ? ${attemptGuard} AND ${OPEN}`
    )
    .bind(status, JSON.stringify(problem), at, at, ...bindings)
    .run()
  const changed = result.meta.changes === 1
  if (changed) signalEditFinished(id)
  return changed
}

function toRecord(row: EditRow): EditRecord {
  return {
    id: row.id,
    keyId: row.key_id,
    status: row.status,
    edits: JSON.parse(row.edits_json) as EditStep[],
    settings: JSON.parse(row.settings_json) as EditSettings,
    input: {
      sha256: row.input_sha256,
      format: row.input_format,
      width: row.input_width,
      height: row.input_height,
      sizeBytes: row.input_size_bytes,
    },
    units: row.units,
    webhookUrl: row.webhook_url,
    maskCacheKey: row.mask_cache_key,
    maskCache: row.mask_cache,
    attempts: row.attempts,
    predictionId: row.prediction_id,
    result: row.result_json ? (JSON.parse(row.result_json) as EditResultRecord) : null,
    error: row.error_json ? (JSON.parse(row.error_json) as EditJob['error']) : null,
    lastError: row.last_error,
    requestId: row.request_id,
    createdAt: row.created_at,
    startedAt: row.started_at,
    completedAt: row.completed_at,
  }
}
