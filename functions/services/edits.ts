/**
 * Creating an edit and waiting for it.
 *
 * `submitEdit` stores the input, applies `Idempotency-Key`, creates the row only when the key
 * has credit for it, and queues the dispatch. `waitForEdit` then polls D1 until the edit
 * finishes or the caller's wait runs out, in which case the route returns 202.
 */
import { ApiProblem } from '../../shared/problems.ts'
import { TERMINAL_EDIT_STATUSES } from '../../shared/schemas/api.ts'
import { checkOutboundUrl } from './address-check.ts'
import type { ServiceContext } from './context.ts'
import type { EditSubmission } from './edit-request.ts'
import { waitForEditSignal } from './edit-signals.ts'
import {
  findIdempotencyKey,
  fingerprintEditRequest,
  insertIdempotencyKeyStatement,
  resolveIdempotencyHit,
} from './idempotency.ts'
import { newEditId } from './ids.ts'
import { resolveImage } from './image-input.ts'
import { findEdit, insertEditStatement, type EditRecord, type NewEdit } from './jobs.ts'
import type { ApiKeyRecord } from './keys.ts'
import { maskCacheBase } from './mask-cache.ts'
import { insufficientCredit, readCredit, unitsForEdits } from './usage.ts'

const MIN_POLL_INTERVAL_MS = 25
const MAX_POLL_INTERVAL_MS = 500

/** The edit a request resolved to, and whether this request created it. */
export interface SubmittedEdit {
  readonly edit: EditRecord
  readonly created: boolean
}

/**
 * Creates an edit for `submission`, or returns the one an earlier request with the same
 * `Idempotency-Key` and body created.
 *
 * @throws ApiProblem `insufficient-credit`, `conflict` (idempotency key reused with another
 *   body), and the image problems of `resolveImage`.
 */
export async function submitEdit(
  ctx: ServiceContext,
  options: {
    submission: EditSubmission
    apiKey: ApiKeyRecord
    idempotencyKey?: string
    requestId: string
  }
): Promise<SubmittedEdit> {
  const { submission, apiKey, idempotencyKey, requestId } = options

  // 1. Check the webhook URL, then read, check and store the image
  assertWebhookAllowed(ctx, submission.webhookUrl)
  const image = await resolveImage(ctx, { source: submission.image, keyId: apiKey.id })

  // 2. A repeated Idempotency-Key returns the earlier edit
  const fingerprint = await fingerprintEditRequest({
    edits: submission.edits,
    settings: submission.settings,
    imageSha256: image.sha256,
    webhookUrl: submission.webhookUrl,
  })
  const earlier = await findEarlierEdit(ctx, { apiKey, idempotencyKey, fingerprint })
  if (earlier) return { edit: earlier, created: false }

  // 3. Insert the row, guarded by the key's credit, with its idempotency key in one batch
  const edit: NewEdit = {
    id: newEditId(),
    keyId: apiKey.id,
    edits: submission.edits,
    settings: submission.settings,
    input: {
      sha256: image.sha256,
      format: image.header.format,
      width: image.header.width,
      height: image.header.height,
      sizeBytes: image.sizeBytes,
    },
    units: unitsForEdits(submission.edits.length),
    webhookUrl: submission.webhookUrl,
    maskCacheKey: await maskCacheBase({
      imageSha256: image.sha256,
      edits: submission.edits,
      settings: submission.settings,
    }),
    requestId,
  }
  const inserted = await insertEdit(ctx, { edit, apiKey, idempotencyKey, fingerprint })
  if (!inserted.created) return inserted

  // 4. Queue the first attempt
  await ctx.env.EDIT_QUEUE.send({ kind: 'dispatch', editId: edit.id })
  ctx.log.info('edit.created', { editId: edit.id, units: edit.units, edits: edit.edits.length })
  return inserted
}

function assertWebhookAllowed(ctx: ServiceContext, webhookUrl: string | null): void {
  if (webhookUrl === null) return
  const rejection = checkOutboundUrl(new URL(webhookUrl), {
    allowLoopback: ctx.config.allowLoopbackUrls,
  })
  if (rejection)
    throw new ApiProblem('invalid-request', `webhook_url is not allowed: ${rejection}.`)
}

async function findEarlierEdit(
  ctx: ServiceContext,
  options: { apiKey: ApiKeyRecord; idempotencyKey?: string; fingerprint: string }
): Promise<EditRecord | undefined> {
  const { apiKey, idempotencyKey, fingerprint } = options
  if (idempotencyKey === undefined) return undefined

  const hit = await findIdempotencyKey(ctx.env.DB, {
    keyId: apiKey.id,
    idempotencyKey,
    now: ctx.now(),
  })
  if (!hit) return undefined
  const edit = await findEdit(ctx.env.DB, resolveIdempotencyHit(hit, fingerprint))
  if (edit) ctx.log.info('edit.idempotent_replay', { editId: edit.id })
  return edit
}

async function insertEdit(
  ctx: ServiceContext,
  options: { edit: NewEdit; apiKey: ApiKeyRecord; idempotencyKey?: string; fingerprint: string }
): Promise<SubmittedEdit> {
  const { edit, apiKey, idempotencyKey, fingerprint } = options
  const db = ctx.env.DB
  const now = ctx.now()
  const statements = [insertEditStatement(db, edit, now)]
  if (idempotencyKey !== undefined) {
    statements.push(
      insertIdempotencyKeyStatement(db, {
        keyId: apiKey.id,
        idempotencyKey,
        fingerprint,
        editId: edit.id,
        now,
      })
    )
  }

  try {
    const [insert] = await db.batch(statements)
    if ((insert?.meta.changes ?? 0) === 0) {
      throw insufficientCredit(edit.units, await readCredit(db, apiKey))
    }
  } catch (error) {
    // A concurrent request with the same Idempotency-Key won the primary key; return its edit.
    const earlier = await findEarlierEdit(ctx, { apiKey, idempotencyKey, fingerprint })
    if (earlier && isConstraintError(error)) return { edit: earlier, created: false }
    throw error
  }

  const stored = await findEdit(db, edit.id)
  if (!stored) throw new Error(`Edit ${edit.id} is missing right after its insert.`)
  return { edit: stored, created: true }
}

function isConstraintError(error: unknown): boolean {
  return error instanceof Error && /UNIQUE constraint failed|SQLITE_CONSTRAINT/.test(error.message)
}

/**
 * Polls an edit until it finishes or `waitS` seconds pass; returns its latest state.
 *
 * The poll interval is a tenth of the time waited so far, kept between 25 ms and 0.5 s, and a
 * long wait costs two D1 reads per second. A completion in the same isolate ends the interval
 * at once (edit-signals.ts); otherwise noticing it adds about a tenth to the wait.
 */
export async function waitForEdit(
  ctx: ServiceContext,
  options: { edit: EditRecord; waitS: number }
): Promise<EditRecord> {
  const startMs = Date.now()
  const deadlineMs = startMs + options.waitS * 1000
  let edit = options.edit

  while (!TERMINAL_EDIT_STATUSES.includes(edit.status)) {
    const nowMs = Date.now()
    if (nowMs >= deadlineMs) break
    const intervalMs = Math.min(
      MAX_POLL_INTERVAL_MS,
      Math.max(MIN_POLL_INTERVAL_MS, (nowMs - startMs) / 10)
    )
    await waitForEditSignal(edit.id, Math.min(intervalMs, deadlineMs - nowMs))
    edit = (await findEdit(ctx.env.DB, edit.id)) ?? edit
  }
  return edit
}
