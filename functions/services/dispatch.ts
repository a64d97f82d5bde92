/**
 * Running an edit on the runner, one attempt per `dispatch` message.
 *
 * Retry policy: an attempt that fails in a way a retry may fix is retried after RETRY_DELAY_S,
 * up to RUNNER_MAX_ATTEMPTS attempts in all. Such failures are an unreachable, busy or timed-out
 * runner, and a prediction that failed with `retryable`. The edit then fails with the last error. Submission
 * failures retry through the queue (`message.retry`), failed predictions through a new dispatch
 * message. If the consumer itself keeps crashing, the queue's retries run out and the message
 * lands in the dead-letter queue, whose consumer fails the edit (`giveUpEdit`): no edit stays
 * queued forever.
 */
import { ApiProblem } from '../../shared/problems.ts'
import type { PredictionInput } from '../../shared/schemas/prediction.ts'
import { inputKey, resultImageKey, resultMaskKey } from '../storage/blob-keys.ts'
import { createBlobUrlSigner, type BlobUrlSigner } from '../storage/signed-urls.ts'
import type { ServiceContext } from './context.ts'
import {
  findEdit,
  recordAttemptError,
  recordPredictionId,
  startAttempt,
  type EditRecord,
} from './jobs.ts'
import { lookupMask } from './mask-cache.ts'
import {
  createRunnerClient,
  runnerWebhookUrl,
  RunnerCallError,
  type RunnerClient,
} from './runner-client.ts'
import { finishWithProblem, settlePrediction } from './settle.ts'

/** Outcome of an attempt for the queue consumer: a delay means retry the message. */
export type AttemptOutcome = { readonly retryAfterS?: number }

// Signed input and output URLs outlive the runner's time limit by this margin.
const URL_MARGIN_S = 600

/** Runs the next attempt of an edit; returns a delay when the message should be retried. */
export async function runAttempt(
  queueCtx: ServiceContext,
  editId: string,
  runner: RunnerClient = createRunnerClient(queueCtx.config)
): Promise<AttemptOutcome> {
  // 1. Claim the attempt; a finished edit needs nothing
  const attempt = await startAttempt(queueCtx.env.DB, editId, queueCtx.now())
  const edit = attempt === undefined ? undefined : await findEdit(queueCtx.env.DB, editId)
  if (attempt === undefined || !edit) return {}
  // Log lines of the attempt carry the id of the request that created the edit.
  const ctx = { ...queueCtx, log: queueCtx.log.child({ requestId: edit.requestId, attempt }) }
  if (attempt > ctx.config.runner.maxAttempts) {
    await giveUpEdit(ctx, editId)
    return {}
  }

  // 2. Signed URLs for the input, the cached mask and the outputs
  const signer = createBlobUrlSigner(ctx.config)
  const { input, maskCache } = await buildPredictionInput(ctx, { edit, attempt, signer })
  const predictionId = `${edit.id}-${attempt}`
  const webhookUrl = await runnerWebhookUrl({
    config: ctx.config,
    editId,
    attempt,
    nowS: nowS(ctx),
  })
  ctx.log.info('runner.called', { editId, attempt, runner: runner.kind, maskCache })

  // 3. Submit, and settle a synchronous result at once
  try {
    const submission = await runner.submit({ predictionId, input, webhookUrl })
    const recordedId = submission.kind === 'accepted' ? submission.predictionId : predictionId
    await recordPredictionId(ctx.env.DB, {
      id: editId,
      attempt,
      predictionId: recordedId,
      maskCache,
    })
    if (submission.kind === 'finished') {
      await settlePrediction(ctx, { edit, attempt, prediction: submission.prediction })
      return {}
    }
    await armWatchdog(ctx, editId, attempt)
    return {}
  } catch (error) {
    if (!(error instanceof RunnerCallError)) throw error
    return handleCallError(ctx, { edit, attempt, error })
  }
}

async function buildPredictionInput(
  ctx: ServiceContext,
  options: { edit: EditRecord; attempt: number; signer: BlobUrlSigner }
): Promise<{ input: PredictionInput; maskCache: 'hit' | 'miss' | null }> {
  const { edit, attempt, signer } = options
  const expiresInS = ctx.config.runner.timeoutS + URL_MARGIN_S
  const cached = edit.maskCacheKey
    ? await lookupMask({ kv: ctx.env.MASK_CACHE, bucket: ctx.env.BLOBS, base: edit.maskCacheKey })
    : undefined

  const [image, mask, outputImage, outputMask] = await Promise.all([
    signer.sign({ key: inputKey(edit.input.sha256), method: 'GET', expiresInS }),
    cached ? signer.sign({ key: cached.maskKey, method: 'GET', expiresInS }) : undefined,
    signer.sign({
      key: resultImageKey(edit.id, attempt, edit.settings.output_format),
      method: 'PUT',
      expiresInS,
    }),
    signer.sign({ key: resultMaskKey(edit.id, attempt), method: 'PUT', expiresInS }),
  ])
  const [only, ...rest] = edit.edits
  const target =
    only && rest.length === 0
      ? { entity: only.entity, prompt: only.prompt }
      : { edits: [...edit.edits] }

  const input: PredictionInput = {
    ...edit.settings,
    ...target,
    image: image.url,
    ...(mask ? { mask: mask.url } : {}),
    output_image_url: outputImage.url,
    output_mask_url: outputMask.url,
  }
  let maskCache: 'hit' | 'miss' | null = null
  if (edit.maskCacheKey) maskCache = cached ? 'hit' : 'miss'
  return { input, maskCache }
}

async function handleCallError(
  ctx: ServiceContext,
  options: { edit: EditRecord; attempt: number; error: RunnerCallError }
): Promise<AttemptOutcome> {
  const { edit, attempt, error } = options
  ctx.log.warn('runner.call_failed', { editId: edit.id, attempt, slug: error.slug, error })

  if (error.retryable && attempt < ctx.config.runner.maxAttempts) {
    await recordAttemptError(ctx.env.DB, edit.id, `${error.slug}: ${error.message}`)
    return { retryAfterS: Math.max(ctx.config.retryDelayS, error.retryAfterS ?? 0) }
  }
  const detail =
    error.retryable && attempt > 1
      ? `The runner call failed ${attempt} times. The last error: ${error.message}`
      : error.message
  await finishWithProblem(ctx, {
    edit,
    attempt,
    problem: new ApiProblem(error.slug, detail),
    status: 'failed',
  })
  return {}
}

// An asynchronous runner that never calls back must not leave the edit running forever.
async function armWatchdog(ctx: ServiceContext, editId: string, attempt: number): Promise<void> {
  await ctx.env.EDIT_QUEUE.send(
    { kind: 'watchdog', editId, attempt },
    { delaySeconds: ctx.config.runner.timeoutS }
  )
}

/**
 * Checks an attempt the runner accepted but has not reported on within its time limit. Where the
 * backend can report a prediction's state (Replicate), it is read and settled. Otherwise the
 * attempt counts as timed out.
 */
export async function checkWatchdog(
  ctx: ServiceContext,
  options: { editId: string; attempt: number },
  runner: RunnerClient = createRunnerClient(ctx.config)
): Promise<void> {
  const { editId, attempt } = options
  const edit = await findEdit(ctx.env.DB, editId)
  if (
    !edit ||
    edit.attempts !== attempt ||
    (edit.status !== 'running' && edit.status !== 'queued')
  ) {
    return
  }

  if (runner.getPrediction && edit.predictionId) {
    const prediction = await runner.getPrediction(edit.predictionId)
    if (prediction.status !== 'starting' && prediction.status !== 'processing') {
      await settlePrediction(ctx, { edit, attempt, prediction })
      return
    }
  }
  const failure = {
    slug: 'timed-out',
    detail: `The runner did not report a result within ${ctx.config.runner.timeoutS} s.`,
    retryable: true,
  }
  await settlePrediction(ctx, {
    edit,
    attempt,
    prediction: {
      id: edit.predictionId ?? `${editId}-${attempt}`,
      status: 'failed',
      error_details: failure,
    },
  })
}

/** Fails an edit whose dispatch gave up (attempts or queue retries used up). */
export async function giveUpEdit(ctx: ServiceContext, editId: string): Promise<void> {
  const edit = await findEdit(ctx.env.DB, editId)
  if (!edit) return

  const reason = edit.lastError ? ` The last error: ${edit.lastError}` : ''
  const problem = new ApiProblem(
    'runner-unavailable',
    `The edit could not be run after ${edit.attempts} attempt(s).${reason} Submit it again later.`
  )
  await finishWithProblem(ctx, { edit, problem, status: 'failed' })
}

function nowS(ctx: ServiceContext): number {
  return Math.floor(ctx.now().getTime() / 1000)
}
