/**
 * Calls of the public API, made as any client makes them: `POST /v1/edits` with
 * `Prefer: respond-async`, then `GET /v1/edits/{id}` until the edit reaches a terminal status.
 * Every failure surfaces as a `ProblemError` carrying an RFC 9457 problem body, so the page
 * renders API errors, network failures and failed edits the same way.
 */
import type { ProblemBody } from '../../../shared/problems.ts'
import type { EditJob, EditStatus } from '../../../shared/schemas/api.ts'

/** Statuses after which an edit never changes again (the API's TERMINAL_EDIT_STATUSES). */
const TERMINAL_STATUSES: ReadonlySet<EditStatus> = new Set([
  'succeeded',
  'failed',
  'canceled',
] satisfies EditStatus[])

/** Poll interval when a response carries no `Retry-After` header. */
const DEFAULT_POLL_INTERVAL_MS = 1000

/** Consecutive failed polls (network errors, retryable problems) after which waiting stops. */
const MAX_POLL_FAILURES = 5

/** An API call that failed, with the problem details the page shows. */
export class ProblemError extends Error {
  constructor(readonly problem: ProblemBody) {
    super(problem.detail)
    this.name = 'ProblemError'
  }
}

/** Submits an edit and returns the job the API created (usually still queued). */
export async function createEdit(form: FormData, apiKey: string): Promise<EditJob> {
  const response = await send('/v1/edits', {
    method: 'POST',
    headers: { Authorization: `Bearer ${apiKey}`, Prefer: 'respond-async' },
    body: form,
  })
  return (await response.json()) as EditJob
}

/**
 * Polls an edit until it succeeds, calling `onUpdate` with each state the API returns.
 *
 * @throws ProblemError with the edit's own problem when it failed or was canceled, or the
 *   last poll's problem after MAX_POLL_FAILURES polls in a row failed.
 */
export async function waitForEdit(
  job: EditJob,
  apiKey: string,
  onUpdate: (job: EditJob) => void
): Promise<EditJob> {
  let current = job
  let delayMs = DEFAULT_POLL_INTERVAL_MS
  let failures = 0

  while (!TERMINAL_STATUSES.has(current.status)) {
    await sleep(delayMs)
    try {
      const response = await send(`/v1/edits/${encodeURIComponent(current.id)}`, {
        headers: { Authorization: `Bearer ${apiKey}` },
      })
      current = (await response.json()) as EditJob
      delayMs = readRetryAfterMs(response) ?? DEFAULT_POLL_INTERVAL_MS
      failures = 0
      onUpdate(current)
    } catch (error) {
      failures += 1
      if (!isRetryable(error) || failures >= MAX_POLL_FAILURES) throw error
    }
  }

  if (current.status === 'succeeded') return current
  throw new ProblemError(current.error ?? failedEditProblem(current))
}

async function send(path: string, init: RequestInit): Promise<Response> {
  let response: Response
  try {
    response = await fetch(path, init)
  } catch (error) {
    throw new ProblemError({
      type: 'about:blank',
      title: 'API not reachable',
      status: 0,
      detail: `The request to ${path} did not reach the API (${String(error)}). Check that the server is running.`,
    })
  }
  if (response.ok) return response
  throw new ProblemError(await readProblem(response))
}

/** Reads a problem+json body, or describes a response that has none. */
async function readProblem(response: Response): Promise<ProblemBody> {
  const text = await response.text()
  try {
    const body: unknown = JSON.parse(text)
    if (isProblemBody(body)) return body
  } catch {
    // Not JSON: described below from the status alone.
  }
  return {
    type: 'about:blank',
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    detail: `The API answered with status ${response.status} and no problem details.`,
  }
}

function isProblemBody(value: unknown): value is ProblemBody {
  if (typeof value !== 'object' || value === null) return false
  const body = value as Record<string, unknown>
  return typeof body.title === 'string' && typeof body.detail === 'string'
}

function isRetryable(error: unknown): boolean {
  if (!(error instanceof ProblemError)) return false
  const status = error.problem.status
  return status === 0 || status === 429 || status >= 500
}

function failedEditProblem(job: EditJob): ProblemBody {
  return {
    type: 'about:blank',
    title: job.status === 'canceled' ? 'Edit canceled' : 'Edit failed',
    status: 0,
    detail: `The edit ${job.id} ended with status "${job.status}" and no problem details.`,
  }
}

function readRetryAfterMs(response: Response): number | undefined {
  const seconds = Number(response.headers.get('Retry-After'))
  return seconds > 0 ? seconds * 1000 : undefined
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
