/**
 * Runtime failures of the runner. Programmer misuse throws TypeError or RangeError instead;
 * a RunnerError is something a caller or operator can act on, and its code maps to a problem
 * slug of the public API.
 */
import type { ProblemSlug } from '../shared/problems.ts'

export type RunnerErrorCode =
  | 'invalid-input'
  | 'unsupported-image'
  | 'image-too-large'
  | 'entity-not-found'
  | 'model-missing'
  | 'model-contract'
  | 'execution-provider'
  | 'out-of-memory'
  | 'fetch-failed'
  | 'url-not-allowed'
  | 'timed-out'
  | 'canceled'
  | 'queue-full'

const SLUG_OF_CODE = {
  'invalid-input': 'invalid-request',
  'unsupported-image': 'unsupported-image',
  'image-too-large': 'image-too-large',
  'entity-not-found': 'entity-not-found',
  'model-missing': 'runner-unavailable',
  'model-contract': 'runner-unavailable',
  'execution-provider': 'runner-unavailable',
  'out-of-memory': 'runner-failed',
  'fetch-failed': 'invalid-request',
  'url-not-allowed': 'invalid-request',
  'timed-out': 'timed-out',
  canceled: 'canceled',
  'queue-full': 'queue-full',
} as const satisfies Record<RunnerErrorCode, ProblemSlug>

/** A failure with a stable code, whether a retry can help, and optional details for the caller. */
export class RunnerError extends Error {
  readonly retryable: boolean
  readonly details: Readonly<Record<string, unknown>>

  constructor(
    readonly code: RunnerErrorCode,
    message: string,
    options: { retryable?: boolean; cause?: unknown; details?: Record<string, unknown> } = {}
  ) {
    super(message, { cause: options.cause })
    this.name = 'RunnerError'
    this.retryable = options.retryable ?? false
    this.details = options.details ?? {}
  }

  /** The public API's problem slug for this failure. */
  get slug(): ProblemSlug {
    return SLUG_OF_CODE[this.code]
  }
}
