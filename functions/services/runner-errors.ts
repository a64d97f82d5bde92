/** The error a runner client throws when a call fails before a prediction result comes back. */
import type { ProblemSlug } from '../../shared/problems.ts'

/** A runner call that failed before a prediction result came back. */
export class RunnerCallError extends Error {
  readonly slug: ProblemSlug
  readonly retryable: boolean
  readonly retryAfterS: number | undefined

  constructor(
    message: string,
    options: { slug: ProblemSlug; retryable: boolean; retryAfterS?: number; cause?: unknown }
  ) {
    super(message, { cause: options.cause })
    this.name = 'RunnerCallError'
    this.slug = options.slug
    this.retryable = options.retryable
    this.retryAfterS = options.retryAfterS
  }
}
