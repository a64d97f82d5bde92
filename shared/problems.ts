/**
 * Problem types of the public API (RFC 9457 problem details).
 *
 * The slug set is closed: every error response carries one of these slugs at the end of its
 * `type` URI, and the table gives each slug its HTTP status, title and whether a retry can help.
 * Both the edge functions and the runner's HTTP contract render errors from this table.
 */

/** Base of every problem `type` URI; the slug is appended. */
export const PROBLEM_TYPE_BASE = 'https://semani.dev/problems/'

export type ProblemSlug =
  | 'invalid-request'
  | 'unsupported-image'
  | 'image-too-large'
  | 'payload-too-large'
  | 'unauthorized'
  | 'forbidden'
  | 'insufficient-credit'
  | 'not-found'
  | 'conflict'
  | 'entity-not-found'
  | 'rate-limited'
  | 'queue-full'
  | 'runner-unavailable'
  | 'runner-failed'
  | 'timed-out'
  | 'canceled'
  | 'internal'

/** Status, title and retryability of one problem slug. */
export interface ProblemInfo {
  readonly status: number
  readonly title: string
  readonly retryable: boolean
}

export const PROBLEMS = {
  'invalid-request': { status: 400, title: 'Invalid request', retryable: false },
  'unsupported-image': { status: 415, title: 'Unsupported image', retryable: false },
  'image-too-large': { status: 413, title: 'Image too large', retryable: false },
  'payload-too-large': { status: 413, title: 'Payload too large', retryable: false },
  unauthorized: { status: 401, title: 'Unauthorized', retryable: false },
  forbidden: { status: 403, title: 'Forbidden', retryable: false },
  'insufficient-credit': { status: 402, title: 'Insufficient credit', retryable: false },
  'not-found': { status: 404, title: 'Not found', retryable: false },
  conflict: { status: 409, title: 'Conflict', retryable: false },
  'entity-not-found': { status: 422, title: 'Entity not found', retryable: false },
  'rate-limited': { status: 429, title: 'Rate limited', retryable: true },
  'queue-full': { status: 503, title: 'Queue full', retryable: true },
  'runner-unavailable': { status: 503, title: 'Runner unavailable', retryable: true },
  'runner-failed': { status: 502, title: 'Runner failed', retryable: true },
  'timed-out': { status: 504, title: 'Timed out', retryable: true },
  canceled: { status: 409, title: 'Canceled', retryable: false },
  internal: { status: 500, title: 'Internal error', retryable: false },
} as const satisfies Record<ProblemSlug, ProblemInfo>

/** Field-level validation issue, reduced from a zod issue. */
export interface ValidationIssue {
  readonly path: string
  readonly code: string
  readonly message: string
}

/** Extra members of a problem body and the error that caused it. */
export interface ProblemExtra {
  readonly cause?: unknown
  readonly errors?: readonly ValidationIssue[]
  /** Seconds after which a retry may succeed; rendered as the Retry-After header too. */
  readonly retryAfterS?: number
  /** Any further members, serialised as they are (for example `candidates`). */
  readonly members?: Readonly<Record<string, unknown>>
}

/** RFC 9457 body as the API sends it. */
export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  instance?: string
  requestId?: string
  errors?: readonly ValidationIssue[]
  [member: string]: unknown
}

/** Returns the stable `type` URI of a slug. */
export function problemType(slug: ProblemSlug): string {
  return PROBLEM_TYPE_BASE + slug
}

/** The one error class of the API: a problem slug, a detail for the caller and extra members. */
export class ApiProblem extends Error {
  constructor(
    readonly slug: ProblemSlug,
    detail: string,
    readonly extra: ProblemExtra = {}
  ) {
    super(detail, { cause: extra.cause })
    this.name = 'ApiProblem'
  }

  get status(): number {
    return PROBLEMS[this.slug].status
  }

  /** Builds the problem+json body; `instance` and `requestId` come from the request. */
  toBody(context: { instance?: string; requestId?: string } = {}): ProblemBody {
    const info = PROBLEMS[this.slug]

    return {
      ...this.extra.members,
      type: problemType(this.slug),
      title: info.title,
      status: info.status,
      detail: this.message,
      ...(context.instance ? { instance: context.instance } : {}),
      ...(context.requestId ? { requestId: context.requestId } : {}),
      ...(this.extra.errors ? { errors: this.extra.errors } : {}),
    }
  }
}

/** Reduces zod-style issues to `{ path, code, message }` for the `errors` member. */
export function toValidationIssues(
  issues: readonly { path: readonly PropertyKey[]; code: string; message: string }[]
): ValidationIssue[] {
  return issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    code: issue.code,
    message: issue.message,
  }))
}
