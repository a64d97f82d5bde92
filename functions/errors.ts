/**
 * Error rendering. `renderError` is the app's only `onError`: it turns every thrown value into
 * an RFC 9457 problem+json response. Anything that is not an `ApiProblem` becomes `internal`,
 * its cause chain is logged, and no stack reaches the client.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'

import { ApiProblem, toValidationIssues, type ProblemBody } from '../shared/problems.ts'
import type { AppEnv } from './env.ts'
import { workerLogger } from './log.ts'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** Renders any thrown value as problem+json. */
export const renderError: ErrorHandler<AppEnv> = (error, c) => {
  const problem = toApiProblem(error)
  const log = c.get('log') ?? workerLogger('info')

  if (problem.slug === 'internal') {
    log.error('request.failed', { method: c.req.method, path: c.req.path, error })
  } else if (problem.status >= 500) {
    log.warn('request.failed', { method: c.req.method, path: c.req.path, slug: problem.slug })
  }
  return problemResponse(c, problem)
}

/** Renders an unknown route as a `not-found` problem. */
export const renderNotFound: NotFoundHandler<AppEnv> = (c) => {
  const problem = new ApiProblem(
    'not-found',
    `No route matches ${c.req.method} ${c.req.path}. The API reference is at /docs.`
  )
  return problemResponse(c, problem)
}

/** Builds the problem+json response for `problem`, with Retry-After when it has one. */
export function problemResponse(c: Context<AppEnv>, problem: ApiProblem): Response {
  const body: ProblemBody = problem.toBody({
    instance: c.req.path,
    requestId: c.get('requestId'),
  })
  if (problem.extra.retryAfterS !== undefined) {
    c.header('Retry-After', String(Math.max(1, Math.ceil(problem.extra.retryAfterS))))
  }
  c.header('Content-Type', PROBLEM_CONTENT_TYPE)
  return c.body(JSON.stringify(body), problem.status as 400)
}

/** Maps a thrown value to the problem the client receives. */
export function toApiProblem(error: unknown): ApiProblem {
  if (error instanceof ApiProblem) return error
  if (error instanceof HTTPException) return fromHttpException(error)
  return new ApiProblem(
    'internal',
    'The request failed on our side. Retry later; quote the requestId when reporting it.',
    { cause: error }
  )
}

// Hono's own middleware (body parsing, body limit) throws HTTPException; keep their status.
function fromHttpException(error: HTTPException): ApiProblem {
  if (error.status === 413) {
    return new ApiProblem('payload-too-large', 'The request body is over the size limit.', {
      cause: error,
    })
  }
  if (error.status >= 400 && error.status < 500) {
    return new ApiProblem('invalid-request', error.message || 'The request is invalid.', {
      cause: error,
    })
  }
  return new ApiProblem('internal', 'The request failed on our side. Retry later.', {
    cause: error,
  })
}

/**
 * Hook for every `zValidator`: turns a failed parse into `invalid-request` with the zod issues
 * reduced to `{ path, code, message }`, instead of the middleware's raw 400 body.
 */
export function validationHook(
  result:
    | { success: true }
    | {
        success: false
        error: { issues: readonly { path: PropertyKey[]; code: string; message: string }[] }
      }
): void {
  if (result.success) return

  const errors = toValidationIssues(result.error.issues)
  const summary = errors
    .slice(0, 3)
    .map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message))
    .join('; ')
  throw new ApiProblem('invalid-request', `The request is invalid. ${summary}`, { errors })
}
