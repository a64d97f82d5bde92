/**
 * One prediction's state as the runner keeps it, and its wire form (Cog's prediction object).
 *
 * Status moves starting → processing → succeeded | failed | canceled, or straight from starting
 * to canceled when a queued prediction is canceled. Every change notifies the webhook sender;
 * the terminal change also resolves `settled`, which synchronous requests wait on.
 */
import type { ProblemSlug } from '../../shared/problems.ts'
import type {
  PredictionOutput,
  PredictionResponse,
  PredictionStatus,
} from '../../shared/schemas/prediction.ts'
import { redactUrl } from '../fetch/url-policy.ts'
import type { EntityCandidate } from '../pipeline/types.ts'
import type { ParsedPredictionRequest } from './prediction-input.ts'
import type { WebhookSender } from './webhooks.ts'

/** Cause of a failed prediction, in the terms of the public problem types. */
export interface PredictionFailure {
  readonly slug: ProblemSlug
  readonly detail: string
  readonly retryable: boolean
  readonly candidates?: readonly EntityCandidate[]
}

/** Source of an outside stop of a running prediction: a cancel request or its time limit. */
export type Interruption = 'canceled' | 'timed-out'

/** Lines kept in `logs`; older lines are dropped first. */
const MAX_LOG_LINES = 500

/** The runner's record of one prediction. */
export class PredictionRecord {
  readonly id: string
  readonly request: ParsedPredictionRequest
  readonly createdAt: Date
  readonly controller = new AbortController()
  readonly webhook: WebhookSender | undefined
  status: PredictionStatus = 'starting'
  startedAt: Date | undefined
  completedAt: Date | undefined
  output: PredictionOutput | undefined
  failure: PredictionFailure | undefined
  interruption: Interruption | undefined
  readonly settled: Promise<void>
  #logs: string[] = []
  #droppedLogLines = 0
  #resolveSettled: () => void = () => undefined

  constructor(options: {
    id: string
    request: ParsedPredictionRequest
    webhook: WebhookSender | undefined
    createdAt: Date
  }) {
    this.id = options.id
    this.request = options.request
    this.webhook = options.webhook
    this.createdAt = options.createdAt
    this.settled = new Promise((resolve) => {
      this.#resolveSettled = resolve
    })
  }

  get isTerminal(): boolean {
    return this.status === 'succeeded' || this.status === 'failed' || this.status === 'canceled'
  }

  /** Approximate retained size in bytes, dominated by data-URI outputs. */
  get retainedBytes(): number {
    return (this.output?.image.length ?? 0) + (this.output?.mask.length ?? 0) + 2048
  }

  /** Adds a line to `logs` and sends a (throttled) `logs` webhook. */
  appendLog(line: string): void {
    this.#logs.push(line)
    if (this.#logs.length > MAX_LOG_LINES) {
      this.#logs.shift()
      this.#droppedLogLines++
    }
    this.webhook?.notify('logs', () => this.toResponse())
  }

  /** Moves to `processing` when a slot picks the prediction up. */
  markProcessing(at: Date): void {
    this.status = 'processing'
    this.startedAt = at
  }

  /** Sets the output before completion, as Cog's `output` event does. */
  setOutput(output: PredictionOutput): void {
    this.output = output
    this.webhook?.notify('output', () => this.toResponse())
  }

  /** Moves to a terminal status, sends `completed` and releases waiting requests. */
  finish(status: 'succeeded' | 'failed' | 'canceled', at: Date, failure?: PredictionFailure): void {
    if (this.isTerminal) return
    this.webhook?.flushPending()
    this.status = status
    this.completedAt = at
    this.failure = failure
    this.webhook?.notify('completed', () => this.toResponse())
    this.#resolveSettled()
  }

  /** Returns the prediction object of Cog's HTTP API. */
  toResponse(): PredictionResponse {
    const predictTimeS =
      this.startedAt && this.completedAt
        ? (this.completedAt.getTime() - this.startedAt.getTime()) / 1000
        : undefined
    const dropped =
      this.#droppedLogLines > 0 ? [`(${this.#droppedLogLines} earlier lines dropped)`] : []

    return {
      id: this.id,
      status: this.status,
      input: echoInput(this.request.input),
      output: this.output ?? null,
      error: this.failure?.detail ?? null,
      error_details: this.failure ? toErrorDetails(this.failure) : null,
      logs: [...dropped, ...this.#logs].map((line) => line + '\n').join(''),
      metrics: predictTimeS === undefined ? {} : { predict_time: predictTimeS },
      created_at: this.createdAt.toISOString(),
      started_at: this.startedAt?.toISOString() ?? null,
      completed_at: this.completedAt?.toISOString() ?? null,
    }
  }
}

function toErrorDetails(
  failure: PredictionFailure
): NonNullable<PredictionResponse['error_details']> {
  return {
    slug: failure.slug,
    detail: failure.detail,
    retryable: failure.retryable,
    ...(failure.candidates ? { candidates: failure.candidates.map(toWireCandidate) } : {}),
  }
}

/** Copies a pipeline candidate into the wire schema's mutable shape. */
export function toWireCandidate(
  candidate: EntityCandidate
): NonNullable<PredictionResponse['output']>['selected'][number] {
  return { bbox: [...candidate.bbox], area: candidate.area, score: candidate.score }
}

/**
 * Returns the input as echoed in responses and webhooks. Data URIs are shortened to their type
 * and size and URLs lose their query strings, so the runner never repeats image bytes or
 * signatures.
 */
function echoInput(input: ParsedPredictionRequest['input']): Record<string, unknown> {
  const echoed: Record<string, unknown> = { ...input }
  for (const field of ['image', 'mask', 'output_image_url', 'output_mask_url'] as const) {
    const value = input[field]
    if (value !== undefined) echoed[field] = describeReference(value)
  }
  return echoed
}

function describeReference(value: string): string {
  if (!value.startsWith('data:')) return redactUrl(value)

  const comma = value.indexOf(',')
  const header = value.slice(0, Math.max(comma, 0))
  return `${header},… (${value.length - comma - 1} characters)`
}
