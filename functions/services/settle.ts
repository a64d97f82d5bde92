/**
 * Settling a finished prediction into its edit, from the synchronous reply of a runner or from
 * its webhook. Every path is safe to repeat: the edit's guarded transitions (jobs.ts) make a
 * second delivery of the same result, or a late result of an abandoned attempt, change nothing.
 */
import { ApiProblem, PROBLEMS, type ProblemSlug } from '../../shared/problems.ts'
import { IMAGE_MEDIA_TYPES } from '../../shared/schemas/api.ts'
import type { PredictionOutput, PredictionResponse } from '../../shared/schemas/prediction.ts'
import { fromBase64 } from '../../shared/signing.ts'
import { resultImageKey, resultMaskKey } from '../storage/blob-keys.ts'
import { writeBlob } from '../storage/blob-store.ts'
import type { ServiceContext } from './context.ts'
import { editPath } from './edit-view.ts'
import { completeEdit, finishEditWithProblem, recordAttemptError, type EditRecord } from './jobs.ts'
import { lookupMask, rememberModelRevisions, storeMask } from './mask-cache.ts'

/** A failure reported by a runner, in the prediction contract's structured form. */
export interface RunnerFailure {
  readonly slug: string
  readonly detail: string
  readonly retryable: boolean
  readonly candidates?: readonly unknown[]
}

/** Applies a prediction's final state to attempt `attempt` of `edit`; ignores other states. */
export async function settlePrediction(
  ctx: ServiceContext,
  options: { edit: EditRecord; attempt: number; prediction: PredictionResponse }
): Promise<void> {
  const { edit, attempt, prediction } = options

  switch (prediction.status) {
    case 'succeeded':
      return settleSuccess(ctx, { edit, attempt, prediction })
    case 'failed':
      return settleFailure(ctx, { edit, attempt, failure: failureOf(prediction) })
    case 'canceled':
      return finishWithProblem(ctx, {
        edit,
        attempt,
        problem: new ApiProblem('canceled', 'The runner canceled the prediction.'),
        status: 'canceled',
      })
    case 'starting':
    case 'processing':
      return
    default: {
      const unhandled: never = prediction.status
      throw new TypeError(`Unknown prediction status ${String(unhandled)}`)
    }
  }
}

async function settleSuccess(
  ctx: ServiceContext,
  options: { edit: EditRecord; attempt: number; prediction: PredictionResponse }
): Promise<void> {
  const { edit, attempt, prediction } = options
  const output = prediction.output
  if (!output) {
    const failure = {
      slug: 'runner-failed',
      detail: 'The runner succeeded without an output.',
      retryable: true,
    }
    return settleFailure(ctx, { edit, attempt, failure })
  }

  const imageKey = resultImageKey(edit.id, attempt, output.format)
  const maskKey = resultMaskKey(edit.id, attempt)
  const stored = await Promise.all([
    ensureStored(ctx, {
      reference: output.image,
      key: imageKey,
      contentType: IMAGE_MEDIA_TYPES[output.format],
    }),
    ensureStored(ctx, { reference: output.mask, key: maskKey, contentType: 'image/png' }),
  ])
  if (!stored.every(Boolean)) {
    const failure = {
      slug: 'runner-failed',
      detail: 'The runner reported outputs it did not upload.',
      retryable: true,
    }
    return settleFailure(ctx, { edit, attempt, failure })
  }

  const rest = withoutReferences(output)
  const scores = await cachedScores(ctx, { edit, output })
  const result = {
    imageKey,
    maskKey,
    output: { ...rest, ...scores },
    ...runnerDuration(prediction),
  }
  const transitioned = await completeEdit(ctx.env.DB, {
    id: edit.id,
    attempt,
    result,
    now: ctx.now(),
  })
  if (!transitioned) {
    ctx.log.info('edit.settle_ignored', { editId: edit.id, attempt, status: 'succeeded' })
    return
  }

  ctx.log.info('edit.succeeded', {
    editId: edit.id,
    attempt,
    maskFromCache: output.mask_from_cache,
  })
  await rememberMask(ctx, { edit, output, maskKey })
  await queueNotification(ctx, edit)
}

async function settleFailure(
  ctx: ServiceContext,
  options: { edit: EditRecord; attempt: number; failure: RunnerFailure }
): Promise<void> {
  const { edit, attempt, failure } = options

  if (failure.retryable && attempt < ctx.config.runner.maxAttempts) {
    await recordAttemptError(ctx.env.DB, edit.id, `${failure.slug}: ${failure.detail}`)
    await ctx.env.EDIT_QUEUE.send(
      { kind: 'dispatch', editId: edit.id },
      { delaySeconds: ctx.config.retryDelayS }
    )
    ctx.log.warn('edit.retry_scheduled', { editId: edit.id, attempt, slug: failure.slug })
    return
  }

  const slug: ProblemSlug =
    failure.slug in PROBLEMS ? (failure.slug as ProblemSlug) : 'runner-failed'
  const members = failure.candidates ? { candidates: failure.candidates } : undefined
  const problem = new ApiProblem(slug, failure.detail, members ? { members } : {})
  await finishWithProblem(ctx, { edit, attempt, problem, status: 'failed' })
}

/** Finishes an edit with a problem and notifies the caller's webhook when it transitioned. */
export async function finishWithProblem(
  ctx: ServiceContext,
  options: {
    edit: EditRecord
    attempt?: number
    problem: ApiProblem
    status: 'failed' | 'canceled'
  }
): Promise<void> {
  const { edit, attempt, problem, status } = options
  const transitioned = await finishEditWithProblem(ctx.env.DB, {
    id: edit.id,
    problem: problem.toBody({ instance: editPath(edit.id) }),
    status,
    now: ctx.now(),
    ...(attempt === undefined ? {} : { attempt }),
  })
  if (!transitioned) {
    ctx.log.info('edit.settle_ignored', { editId: edit.id, attempt, status })
    return
  }

  ctx.log.info(status === 'failed' ? 'edit.failed' : 'edit.canceled', {
    editId: edit.id,
    attempt,
    slug: problem.slug,
  })
  await queueNotification(ctx, edit)
}

// The result record keeps R2 keys, not the URLs or data URIs the runner reported.
function withoutReferences(output: PredictionOutput): Omit<PredictionOutput, 'image' | 'mask'> {
  const copy: Partial<PredictionOutput> = { ...output }
  delete copy.image
  delete copy.mask
  return copy as Omit<PredictionOutput, 'image' | 'mask'>
}

function failureOf(prediction: PredictionResponse): RunnerFailure {
  if (prediction.error_details) return prediction.error_details
  return {
    slug: 'runner-failed',
    detail: prediction.error
      ? `The runner failed: ${prediction.error.slice(0, 300)}`
      : 'The runner failed.',
    retryable: false,
  }
}

/**
 * Makes sure an output is in R2 under `key`. A data URI is decoded and written here. A URL must
 * be the signed PUT URL the runner was given, so the object must already exist.
 */
async function ensureStored(
  ctx: ServiceContext,
  options: { reference: string; key: string; contentType: string }
): Promise<boolean> {
  const { reference, key, contentType } = options
  const dataUri = /^data:[^;,]+;base64,(.*)$/s.exec(reference)
  if (!dataUri) return (await ctx.env.BLOBS.head(key)) !== null

  const bytes = fromBase64(dataUri[1] ?? '')
  if (!bytes) return false
  await writeBlob({ bucket: ctx.env.BLOBS, key, bytes, contentType, log: ctx.log })
  return true
}

// Replicate reports `metrics.predict_time` in seconds; a Cog runner gives timestamps.
function runnerDuration(prediction: PredictionResponse): { runnerMs?: number } {
  const predictS = prediction.metrics?.predict_time
  if (predictS !== undefined) return { runnerMs: Math.round(predictS * 1000) }

  const startedMs = Date.parse(prediction.started_at ?? prediction.created_at ?? '')
  const completedMs = Date.parse(prediction.completed_at ?? '')
  if (Number.isNaN(startedMs) || Number.isNaN(completedMs)) return {}
  return { runnerMs: completedMs - startedMs }
}

async function rememberMask(
  ctx: ServiceContext,
  options: { edit: EditRecord; output: PredictionOutput; maskKey: string }
): Promise<void> {
  const { edit, output, maskKey } = options
  await rememberModelRevisions(ctx.env.MASK_CACHE, output.model_revisions)
  if (!edit.maskCacheKey || output.mask_from_cache) return

  await storeMask({
    kv: ctx.env.MASK_CACHE,
    base: edit.maskCacheKey,
    revisions: output.model_revisions,
    mask: { maskKey, editId: edit.id, selected: output.selected, candidates: output.candidates },
  })
  ctx.log.info('mask_cache.stored', { editId: edit.id })
}

// A runner that reuses a cached mask scores nothing; the edit shows the scores of the edit that
// chose the mask instead.
async function cachedScores(
  ctx: ServiceContext,
  options: { edit: EditRecord; output: PredictionOutput }
): Promise<Pick<PredictionOutput, 'selected' | 'candidates'> | undefined> {
  const { edit, output } = options
  if (!output.mask_from_cache || !edit.maskCacheKey) return undefined

  const cached = await lookupMask({
    kv: ctx.env.MASK_CACHE,
    bucket: ctx.env.BLOBS,
    base: edit.maskCacheKey,
  })
  if (!cached?.selected || !cached.candidates) return undefined
  return { selected: [...cached.selected], candidates: [...cached.candidates] }
}

async function queueNotification(ctx: ServiceContext, edit: EditRecord): Promise<void> {
  if (!edit.webhookUrl) return
  await ctx.env.EDIT_QUEUE.send({ kind: 'notify', editId: edit.id })
}
