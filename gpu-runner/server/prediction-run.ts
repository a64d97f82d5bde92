/**
 * Runs one prediction inside its queue slot: fetch inputs, run the pipeline, deliver outputs.
 *
 * A cancel request or the time limit aborts the prediction's AbortController. The pipeline
 * stops at the next denoising step once the signal is aborted. The prediction becomes terminal
 * at once instead of waiting for that. The queue slot stays taken until the pipeline has really
 * returned, so a run that ignores its signal can never overlap the next run on the same device.
 *
 * NOTE: the pipeline checks its signal before each edit and between denoising steps only, so a
 * cancel or time limit during segmentation frees the slot when alignment ends (about 30 s for
 * the tiny profile on a busy 2-core CPU).
 */
import { RunnerError } from '../errors.ts'
import { fetchImageBytes, type FetchLimits } from '../fetch/fetch-image.ts'
import type { OutboundPolicy } from '../fetch/url-policy.ts'
import { log } from '../log.ts'
import type { EditPipelineResult, EntityCandidate, PipelineProgress } from '../pipeline/types.ts'
import type { RunnerPipeline } from './pipeline-port.ts'
import {
  toWireCandidate,
  type PredictionFailure,
  type PredictionRecord,
} from './prediction-record.ts'
import { contentTypeOf, toDataUri, UploadError, uploadOutput } from './uploads.ts'
import type { PredictionOutput } from '../../shared/schemas/prediction.ts'

/** Dependencies of a run besides its record. */
export interface RunDependencies {
  readonly pipeline: RunnerPipeline
  readonly policy: OutboundPolicy
  readonly fetchLimits: FetchLimits
  /** Time limit from the start of processing to the end of the pipeline run. */
  readonly timeoutMs: number
  readonly uploadTimeoutMs: number
}

/**
 * Processes `record` to a terminal status and logs one line for it.
 *
 * @returns A promise that settles when the pipeline no longer uses its slot.
 */
export async function runPrediction(
  record: PredictionRecord,
  deps: RunDependencies
): Promise<{ pipelineSettled: Promise<unknown> }> {
  const startedAt = new Date()
  const timingsMs: Record<string, number> = {
    queue: startedAt.getTime() - record.createdAt.getTime(),
  }
  let pipelineSettled: Promise<unknown> = Promise.resolve()
  const deadline = setTimeout(() => interrupt(record, 'timed-out'), deps.timeoutMs)

  try {
    // 1. Take the slot
    record.markProcessing(startedAt)
    record.appendLog(`started after ${timingsMs.queue} ms in the queue`)

    // 2. Inputs, fetched in parallel under the prediction's signal
    const fetchStartMs = performance.now()
    const inputs = await raceInterruption(record, fetchInputs(record, deps))
    timingsMs.fetch_inputs = Math.round(performance.now() - fetchStartMs)

    // 3. Pipeline; its promise is kept so the slot is held until it really ends
    const running = deps.pipeline.run({
      ...inputs,
      edits: record.request.edits,
      settings: record.request.settings,
      signal: record.controller.signal,
      onProgress: (progress) => record.appendLog(describeProgress(progress)),
    })
    pipelineSettled = running.catch(() => undefined)
    const result = await raceInterruption(record, running)
    clearTimeout(deadline)

    // 4. Outputs: uploads begin only now, with every byte ready
    const deliverStartMs = performance.now()
    const { image, mask } = await deliverOutputs(record, result, deps)
    timingsMs.deliver_outputs = Math.round(performance.now() - deliverStartMs)

    // 5. Done
    record.setOutput(toPredictionOutput(result, { image, mask, timingsMs }))
    record.finish('succeeded', new Date())
  } catch (error) {
    finishWithError(record, error, deps.timeoutMs)
  } finally {
    clearTimeout(deadline)
  }

  logCompletion(record, timingsMs, deps.pipeline.modelRevisions)
  return { pipelineSettled }
}

/** Aborts a prediction from outside; its run ends with the matching status. */
export function interrupt(record: PredictionRecord, reason: 'canceled' | 'timed-out'): void {
  if (record.isTerminal || record.interruption !== undefined) return

  record.interruption = reason
  const message = reason === 'canceled' ? 'Prediction canceled.' : 'Prediction timed out.'
  record.controller.abort(new RunnerError(reason, message))
}

async function fetchInputs(record: PredictionRecord, deps: RunDependencies) {
  const { input } = record.request
  const common = { policy: deps.policy, limits: deps.fetchLimits, signal: record.controller.signal }
  const [image, mask] = await Promise.all([
    fetchImageBytes({ ref: input.image, purpose: 'image', ...common }),
    input.mask === undefined
      ? Promise.resolve(undefined)
      : fetchImageBytes({ ref: input.mask, purpose: 'mask', ...common }),
  ])

  return mask === undefined ? { image } : { image, mask }
}

async function deliverOutputs(
  record: PredictionRecord,
  result: EditPipelineResult,
  deps: RunDependencies
): Promise<{ image: string; mask: string }> {
  const { output_image_url: imageUrl, output_mask_url: maskUrl } = record.request.input
  const imageType = contentTypeOf(result.format)
  const common = { policy: deps.policy, timeoutMs: deps.uploadTimeoutMs }

  const [image, mask] = await Promise.all([
    imageUrl === undefined
      ? toDataUri(result.image, imageType)
      : uploadOutput({
          url: imageUrl,
          purpose: 'output_image_url',
          bytes: result.image,
          contentType: imageType,
          ...common,
        }),
    maskUrl === undefined
      ? toDataUri(result.mask, 'image/png')
      : uploadOutput({
          url: maskUrl,
          purpose: 'output_mask_url',
          bytes: result.mask,
          contentType: 'image/png',
          ...common,
        }),
  ])
  return { image, mask }
}

function toPredictionOutput(
  result: EditPipelineResult,
  delivered: { image: string; mask: string; timingsMs: Record<string, number> }
): PredictionOutput {
  return {
    image: delivered.image,
    mask: delivered.mask,
    format: result.format,
    width: result.width,
    height: result.height,
    seed: result.seed,
    selected: result.selected.map(toWireCandidate),
    candidates: result.candidates.map(toWireCandidate),
    window: [...result.window],
    mask_from_cache: result.maskFromCache,
    timings_ms: { ...delivered.timingsMs, ...result.timingsMs },
    model_revisions: { ...result.modelRevisions },
  }
}

function finishWithError(record: PredictionRecord, error: unknown, timeoutMs: number): void {
  const completedAt = new Date()
  if (record.interruption === 'canceled') {
    record.finish('canceled', completedAt)
    return
  }
  if (record.interruption === 'timed-out') {
    const detail = `The prediction did not finish within ${timeoutMs / 1000} s; retry with fewer steps or a smaller image.`
    record.finish('failed', completedAt, { slug: 'timed-out', detail, retryable: true })
    return
  }
  record.finish('failed', completedAt, describeFailure(record, error))
}

function describeFailure(record: PredictionRecord, error: unknown): PredictionFailure {
  if (error instanceof RunnerError) {
    const candidates = error.details.candidates
    return {
      slug: error.slug,
      detail: error.message,
      retryable: error.retryable,
      ...(Array.isArray(candidates) ? { candidates: candidates as EntityCandidate[] } : {}),
    }
  }
  if (error instanceof UploadError) {
    return { slug: 'runner-failed', detail: error.message, retryable: error.retryable }
  }

  // Unknown errors are logged here, where they are handled, and never shown to the caller.
  log.error('prediction.failed_unexpectedly', { predictionId: record.id, error })
  return {
    slug: 'internal',
    detail: `The runner failed unexpectedly; its log has the cause under prediction ${record.id}.`,
    retryable: false,
  }
}

// Rejects as soon as the prediction is interrupted. The abort listener is removed afterwards:
// left on the signal of a kept record, it would keep the settled race, and with it the
// pipeline's output bytes, reachable until the record is dropped.
async function raceInterruption<T>(record: PredictionRecord, work: Promise<T>): Promise<T> {
  const { signal } = record.controller
  let onAbort: (() => void) | undefined
  const interrupted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })

  try {
    return await Promise.race([work, interrupted])
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort)
  }
}

function describeProgress(progress: PipelineProgress): string {
  return `${progress.stage} ${progress.done}/${progress.total}`
}

function logCompletion(
  record: PredictionRecord,
  timingsMs: Record<string, number>,
  modelRevisions: Readonly<Record<string, string>>
): void {
  const totalMs = (record.completedAt?.getTime() ?? Date.now()) - record.createdAt.getTime()
  const stageTimingsMs = { ...timingsMs, ...record.output?.timings_ms }

  log.info('prediction.completed', {
    predictionId: record.id,
    outcome: record.status,
    ...(record.failure ? { problem: record.failure.slug } : {}),
    totalMs,
    timingsMs: stageTimingsMs,
    modelRevisions,
    edits: record.request.edits.length,
    steps: record.request.settings.steps,
    maskFromInput: record.request.input.mask !== undefined,
    ...memoryFields(),
  })
}

// Process memory after the prediction, so operators can spot growth across predictions.
function memoryFields(): Record<string, number> {
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage()

  return {
    rssBytes: rss,
    heapUsedBytes: heapUsed,
    externalBytes: external,
    arrayBuffersBytes: arrayBuffers,
  }
}
