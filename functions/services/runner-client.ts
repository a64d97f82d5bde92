/**
 * One interface over the two ways of running a prediction:
 *
 * - `http`: a runner that speaks Cog's HTTP API directly (the project's `semani runner`, or the
 *   same container on any HTTP host). `PUT /predictions/{id}`, so a resent request after a lost
 *   response does not start a second run; synchronous, or `Prefer: respond-async` with a webhook.
 * - `replicate`: a Replicate deployment of the same container, through the `replicate` client;
 *   always asynchronous, finished through a Standard Webhooks delivery.
 *
 * Webhooks from a runner arrive at `/v1/runner-webhooks/<kind>/<edit id>` with a signed query
 * (`runnerWebhookUrl`) that scopes them to one attempt of one edit. Replicate also signs each
 * delivery with the Standard Webhooks scheme, and so does an http runner when
 * RUNNER_WEBHOOK_SECRET is set. That signature over the raw body is then checked as well.
 */
import type { PredictionInput, PredictionResponse } from '../../shared/schemas/prediction.ts'
import { hmacSha256, timingSafeEqual, fromBase64, toBase64Url } from '../../shared/signing.ts'
import type { Config } from '../config.ts'
import { createHttpRunnerClient } from './runner-http.ts'
import { createReplicateRunnerClient } from './runner-replicate.ts'

export { RunnerCallError } from './runner-errors.ts'

/** Prediction request from the edge to a runner. */
export interface RunnerSubmitRequest {
  /** Our id of this attempt, `<edit id>-<attempt>`; the http runner uses it as prediction id. */
  readonly predictionId: string
  readonly input: PredictionInput
  /** URL that an asynchronous runner sends the finished prediction to. */
  readonly webhookUrl: string
}

export type RunnerSubmission =
  | { readonly kind: 'finished'; readonly prediction: PredictionResponse }
  | { readonly kind: 'accepted'; readonly predictionId: string }

/** Headers and raw body of a webhook delivery from a runner. */
export interface RunnerWebhookDelivery {
  readonly headers: Headers
  readonly rawBody: string
  readonly nowS: number
}

export interface RunnerClient {
  readonly kind: 'http' | 'replicate'
  /** Sends a prediction; returns it finished (synchronous mode) or accepted. */
  submit(request: RunnerSubmitRequest): Promise<RunnerSubmission>
  /** Checks the delivery's body signature, where this runner kind signs its webhooks. */
  verifyWebhook(delivery: RunnerWebhookDelivery): Promise<boolean>
  /** Reads a prediction's current state, where the backend can (Replicate can, Cog cannot). */
  getPrediction?(predictionId: string): Promise<PredictionResponse>
}

/**
 * Creates the runner client the configuration selects.
 *
 * @throws Error when the selected kind lacks its settings (RUNNER_URL, or the REPLICATE_*).
 */
export function createRunnerClient(config: Config, fetcher: typeof fetch = fetch): RunnerClient {
  const { runner } = config
  if (runner.kind === 'http') {
    if (!runner.url) throw new Error('RUNNER_KIND is "http" but RUNNER_URL is not set.')
    return createHttpRunnerClient({
      baseUrl: runner.url,
      mode: runner.mode,
      timeoutS: runner.timeoutS,
      webhookSecret: runner.webhookSecret,
      fetcher,
    })
  }
  if (!runner.replicate) {
    throw new Error(
      'RUNNER_KIND is "replicate" but REPLICATE_API_TOKEN, REPLICATE_DEPLOYMENT or ' +
        'REPLICATE_WEBHOOK_SECRET is not set.'
    )
  }
  return createReplicateRunnerClient({ ...runner.replicate, fetcher })
}

const WEBHOOK_TOKEN_VERSION = 'semani-runner-webhook-v1'

/** Path prefix of runner webhooks. */
export const RUNNER_WEBHOOK_PREFIX = '/v1/runner-webhooks/'

/** Builds the signed webhook URL of one attempt of one edit. */
export async function runnerWebhookUrl(options: {
  config: Config
  editId: string
  attempt: number
  nowS: number
}): Promise<string> {
  const { config, editId, attempt, nowS } = options
  // The runner may take up to its timeout, and Replicate retries a failed delivery for a while.
  const expiresAtS = nowS + 2 * config.runner.timeoutS + 3600
  const token = await webhookToken(config.blobs.signingSecret, editId, attempt, expiresAtS)
  const url = new URL(
    `${config.publicBaseUrl}${RUNNER_WEBHOOK_PREFIX}${config.runner.kind}/${editId}`
  )
  url.searchParams.set('attempt', String(attempt))
  url.searchParams.set('expires', String(expiresAtS))
  url.searchParams.set('sig', token)
  return url.toString()
}

/** Checks a runner webhook URL's query; returns the attempt it is for, or undefined. */
export async function checkRunnerWebhookQuery(options: {
  secret: string
  editId: string
  query: URLSearchParams
  nowS: number
}): Promise<number | undefined> {
  const { secret, editId, query, nowS } = options
  const attempt = Number(query.get('attempt'))
  const expiresAtS = Number(query.get('expires'))
  const given = fromBase64(query.get('sig') ?? '')
  if (!Number.isInteger(attempt) || !Number.isInteger(expiresAtS) || !given) return undefined

  const expected = fromBase64(await webhookToken(secret, editId, attempt, expiresAtS))
  if (!expected || !timingSafeEqual(given, expected) || nowS > expiresAtS) return undefined
  return attempt
}

async function webhookToken(
  secret: string,
  editId: string,
  attempt: number,
  expiresAtS: number
): Promise<string> {
  const message = [WEBHOOK_TOKEN_VERSION, editId, String(attempt), String(expiresAtS)].join('\n')
  return toBase64Url(await hmacSha256(secret, message))
}
