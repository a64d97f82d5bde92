/** Errors the Semani client throws. */
import type { ProblemBody } from '../problems.ts'
import type { EditJob } from '../schemas/api.ts'

/**
 * An error response of the API, carrying its RFC 9457 problem body.
 *
 * A response that is not problem+json (a proxy's HTML error page, say) gets a problem whose
 * `type` is `about:blank`, as RFC 9457 section 4.2.1 defines for problems without a type.
 */
export class SemaniApiError extends Error {
  /** Seconds the API asked the caller to wait before a retry (`Retry-After`), when it did. */
  readonly retryAfterS: number | undefined

  constructor(
    readonly problem: ProblemBody,
    options: { retryAfterS?: number; cause?: unknown } = {}
  ) {
    super(`${problem.title}: ${problem.detail}`, { cause: options.cause })
    this.name = 'SemaniApiError'
    this.retryAfterS = options.retryAfterS
  }

  /** Problem type URI, for example `https://semani.dev/problems/entity-not-found`. */
  get type(): string {
    return this.problem.type
  }

  get title(): string {
    return this.problem.title
  }

  /** HTTP status of the response. */
  get status(): number {
    return this.problem.status
  }

  get detail(): string {
    return this.problem.detail
  }

  /** Id of the request in the API's logs; quote it when reporting a failure. */
  get requestId(): string | undefined {
    return this.problem.requestId
  }
}

/** `waitForEdit` ran out of time before the edit finished; the edit itself goes on. */
export class SemaniTimeoutError extends Error {
  constructor(
    /** The edit as it was at the last poll. */
    readonly edit: EditJob,
    timeoutMs: number
  ) {
    super(`Edit ${edit.id} is still ${edit.status} after ${timeoutMs} ms; poll it again later.`)
    this.name = 'SemaniTimeoutError'
  }
}
