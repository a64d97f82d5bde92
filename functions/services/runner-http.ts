/**
 * Runner client for a Cog HTTP runner. See runner-client.ts for the interface.
 *
 * Failure mapping: a connection failure, a timeout, a 5xx or a 429 is retryable, because the
 * runner is down, busy or overloaded. A 4xx is not, because the request itself is wrong and
 * resending it would fail the same way.
 */
import { ProblemSchema } from '../../shared/schemas/api.ts'
import {
  PredictionResponseSchema,
  type PredictionResponse,
} from '../../shared/schemas/prediction.ts'
import { problemType, type ProblemSlug } from '../../shared/problems.ts'
import { verifyStandardWebhook } from '../../shared/signing.ts'
import type {
  RunnerClient,
  RunnerSubmission,
  RunnerSubmitRequest,
  RunnerWebhookDelivery,
} from './runner-client.ts'
import { RunnerCallError } from './runner-errors.ts'

const TERMINAL = new Set(['succeeded', 'failed', 'canceled'])

export function createHttpRunnerClient(options: {
  baseUrl: string
  mode: 'sync' | 'webhook'
  timeoutS: number
  webhookSecret?: string
  fetcher?: typeof fetch
}): RunnerClient {
  const { baseUrl, mode, timeoutS, webhookSecret, fetcher = fetch } = options

  return {
    kind: 'http',
    async submit(request) {
      const response = await sendPrediction({ baseUrl, mode, timeoutS, fetcher, request })
      return readSubmission(response, mode)
    },
    async verifyWebhook(delivery) {
      if (!webhookSecret) return true
      return verifySignedDelivery(webhookSecret, delivery)
    },
  }
}

async function sendPrediction(options: {
  baseUrl: string
  mode: 'sync' | 'webhook'
  timeoutS: number
  fetcher: typeof fetch
  request: RunnerSubmitRequest
}): Promise<Response> {
  const { baseUrl, mode, timeoutS, fetcher, request } = options
  const body = {
    id: request.predictionId,
    input: request.input,
    ...(mode === 'webhook'
      ? { webhook: request.webhookUrl, webhook_events_filter: ['completed'] }
      : {}),
  }
  const headers: Record<string, string> = { 'Content-Type': 'application/json' }
  if (mode === 'webhook') headers.Prefer = 'respond-async'
  const signal = AbortSignal.timeout(timeoutS * 1000)

  try {
    return await fetcher(`${baseUrl}/predictions/${encodeURIComponent(request.predictionId)}`, {
      method: 'PUT',
      headers,
      body: JSON.stringify(body),
      signal,
    })
  } catch (error) {
    if (signal.aborted) {
      throw new RunnerCallError(`The runner did not respond within ${timeoutS} s.`, {
        slug: 'timed-out',
        retryable: true,
        cause: error,
      })
    }
    throw new RunnerCallError('The runner could not be reached.', {
      slug: 'runner-unavailable',
      retryable: true,
      cause: error,
    })
  }
}

async function readSubmission(
  response: Response,
  mode: 'sync' | 'webhook'
): Promise<RunnerSubmission> {
  if (!response.ok) throw await toCallError(response)

  const parsed = PredictionResponseSchema.safeParse(await response.json().catch(() => undefined))
  if (!parsed.success) {
    throw new RunnerCallError('The runner responded with a body that is not a prediction.', {
      slug: 'runner-failed',
      retryable: true,
      cause: parsed.error,
    })
  }
  const prediction: PredictionResponse = parsed.data
  if (TERMINAL.has(prediction.status)) return { kind: 'finished', prediction }
  if (mode === 'sync') {
    throw new RunnerCallError(
      `The runner returned status "${prediction.status}" for a synchronous request.`,
      { slug: 'runner-failed', retryable: true }
    )
  }
  return { kind: 'accepted', predictionId: prediction.id }
}

async function toCallError(response: Response): Promise<RunnerCallError> {
  const text = await response.text().catch(() => '')
  const problem = ProblemSchema.safeParse(safeJson(text))
  const slug = problem.success ? slugOfType(problem.data.type) : undefined
  const detail = problem.success ? problem.data.detail : text.slice(0, 200)
  const retryable = response.status >= 500 || response.status === 429
  const retryAfter = Number(response.headers.get('Retry-After') ?? NaN)

  return new RunnerCallError(`The runner responded with HTTP ${response.status}: ${detail}`, {
    slug: slug ?? (retryable ? 'runner-unavailable' : 'runner-failed'),
    retryable,
    ...(Number.isFinite(retryAfter) ? { retryAfterS: retryAfter } : {}),
  })
}

function slugOfType(type: string): ProblemSlug | undefined {
  const slug = type.split('/').pop() as ProblemSlug
  return problemType(slug) === type ? slug : undefined
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    // A non-JSON error body (a proxy's HTML page) is reported by its text instead.
    return undefined
  }
}

/** Checks a Standard Webhooks signature (webhook-id, webhook-timestamp, webhook-signature). */
export async function verifySignedDelivery(
  secret: string,
  delivery: RunnerWebhookDelivery
): Promise<boolean> {
  const { headers, rawBody, nowS } = delivery
  const check = await verifyStandardWebhook({
    secret,
    headers: {
      id: headers.get('webhook-id') ?? undefined,
      timestamp: headers.get('webhook-timestamp') ?? undefined,
      signature: headers.get('webhook-signature') ?? undefined,
    },
    body: rawBody,
    nowS,
  })
  return check.ok
}
