/**
 * The prediction service: creates predictions, keeps them by id, cancels them and drops old
 * ones.
 *
 * Idempotency: a PUT with an id the runner still holds returns that prediction and starts
 * nothing; with a different input it is a conflict. Finished predictions are kept until either
 * `maxCount` of them or `maxBytes` of outputs are held, oldest dropped first; a PUT with a
 * dropped id runs again.
 */
import { randomBytes } from 'node:crypto'

import { ApiProblem } from '../../shared/problems.ts'
import type { FetchLimits } from '../fetch/fetch-image.ts'
import type { OutboundPolicy } from '../fetch/url-policy.ts'
import type { RunnerPipeline } from './pipeline-port.ts'
import type { ParsedPredictionRequest } from './prediction-input.ts'
import { PredictionRecord } from './prediction-record.ts'
import { interrupt, runPrediction } from './prediction-run.ts'
import type { PredictionQueue } from './queue.ts'
import { WebhookSender } from './webhooks.ts'

/** How many finished predictions to keep for idempotent retries. */
export interface RetentionLimits {
  readonly maxCount: number
  /** Total size of kept outputs (data URIs dominate), in bytes. */
  readonly maxBytes: number
}

export const DEFAULT_RETENTION: RetentionLimits = { maxCount: 1000, maxBytes: 64 * 1024 * 1024 }

export interface PredictionServiceOptions {
  /** The loaded pipeline, or undefined while the runner is starting. */
  readonly getPipeline: () => RunnerPipeline | undefined
  readonly queue: PredictionQueue
  readonly policy: OutboundPolicy
  readonly fetchLimits: FetchLimits
  readonly timeoutMs: number
  readonly uploadTimeoutMs: number
  readonly retention?: RetentionLimits
  readonly webhookThrottleMs?: number
}

/** Holds the runner's predictions by id. */
export class PredictionService {
  readonly #options: PredictionServiceOptions
  readonly #records = new Map<string, PredictionRecord>()
  readonly #webhooks = new Set<WebhookSender>()

  constructor(options: PredictionServiceOptions) {
    this.#options = options
  }

  /**
   * Creates and queues a prediction, or returns the existing one for an idempotent retry.
   *
   * @throws ApiProblem `conflict` for a reused id (POST, or PUT with another input),
   *   `queue-full` with Retry-After, `runner-unavailable` before the models are loaded.
   */
  create(
    request: ParsedPredictionRequest,
    options: { idempotent: boolean }
  ): { record: PredictionRecord; created: boolean } {
    const existing = request.id === undefined ? undefined : this.#records.get(request.id)
    if (existing !== undefined)
      return { record: reuse(existing, request, options.idempotent), created: false }

    const pipeline = this.#options.getPipeline()
    if (pipeline === undefined) {
      throw new ApiProblem('runner-unavailable', 'The runner is still loading its models.', {
        retryAfterS: 5,
      })
    }
    const { queue } = this.#options
    if (queue.isFull) {
      const retryAfterS = queue.retryAfterS()
      throw new ApiProblem(
        'queue-full',
        `The runner is busy: ${queue.running} running and ${queue.waiting} waiting. Retry after ${retryAfterS} s.`,
        { retryAfterS }
      )
    }

    const record = this.#createRecord(request)
    record.webhook?.notify('start', () => record.toResponse())
    queue.submit(record.id, () => this.#process(record, pipeline))
    return { record, created: true }
  }

  /** Returns the prediction with `id`, if the runner still keeps it. */
  find(id: string): PredictionRecord | undefined {
    return this.#records.get(id)
  }

  /**
   * Cancels a prediction: a queued one ends at once, a running one at its next denoising step.
   * Finished predictions are returned unchanged.
   */
  cancel(id: string): PredictionRecord | undefined {
    const record = this.#records.get(id)
    if (record === undefined || record.isTerminal) return record

    if (this.#options.queue.withdraw(id)) {
      record.interruption = 'canceled'
      record.finish('canceled', new Date())
      this.#afterFinish(record)
      return record
    }
    interrupt(record, 'canceled')
    return record
  }

  /** Resolves when every queued webhook request has been sent or has failed. */
  async drainWebhooks(): Promise<void> {
    await Promise.all([...this.#webhooks].map((sender) => sender.drain()))
  }

  #createRecord(request: ParsedPredictionRequest): PredictionRecord {
    const id = request.id ?? generatePredictionId()
    const webhook =
      request.webhook === undefined
        ? undefined
        : new WebhookSender({
            target: request.webhook,
            policy: this.#options.policy,
            predictionId: id,
            ...(this.#options.webhookThrottleMs === undefined
              ? {}
              : { throttleMs: this.#options.webhookThrottleMs }),
          })
    const record = new PredictionRecord({ id, request, webhook, createdAt: new Date() })
    this.#records.set(id, record)
    if (webhook) this.#webhooks.add(webhook)
    return record
  }

  async #process(record: PredictionRecord, pipeline: RunnerPipeline): Promise<void> {
    const { policy, fetchLimits, timeoutMs, uploadTimeoutMs } = this.#options
    const { pipelineSettled } = await runPrediction(record, {
      pipeline,
      policy,
      fetchLimits,
      timeoutMs,
      uploadTimeoutMs,
    })
    this.#afterFinish(record)
    await pipelineSettled
  }

  #afterFinish(record: PredictionRecord): void {
    const { webhook } = record
    if (webhook) void webhook.drain().then(() => this.#webhooks.delete(webhook))
    this.#evictFinished()
  }

  // Map iteration follows insertion order, so the first finished records are the oldest.
  #evictFinished(): void {
    const { maxCount, maxBytes } = this.#options.retention ?? DEFAULT_RETENTION
    let count = 0
    let bytes = 0
    for (const record of this.#records.values()) {
      if (!record.isTerminal) continue
      count++
      bytes += record.retainedBytes
    }

    for (const [id, record] of this.#records) {
      if (count <= maxCount && bytes <= maxBytes) return
      if (!record.isTerminal) continue
      this.#records.delete(id)
      count--
      bytes -= record.retainedBytes
    }
  }
}

function reuse(
  existing: PredictionRecord,
  request: ParsedPredictionRequest,
  idempotent: boolean
): PredictionRecord {
  if (!idempotent) {
    throw new ApiProblem(
      'conflict',
      `Prediction "${existing.id}" already exists; retry it with PUT /predictions/${existing.id}.`
    )
  }
  if (existing.request.inputDigest !== request.inputDigest) {
    throw new ApiProblem(
      'conflict',
      `Prediction "${existing.id}" already exists with a different input; use a new id for a new prediction.`
    )
  }
  return existing
}

/** Generates a Cog-style id: 16 random bytes in lowercase base32 without padding (26 chars). */
export function generatePredictionId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  const bytes = randomBytes(16)
  let bits = 0
  let value = 0
  let id = ''
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      id += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) id += alphabet[(value << (5 - bits)) & 31]
  return id
}
