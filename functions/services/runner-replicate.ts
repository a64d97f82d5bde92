/**
 * Runner client for a Replicate deployment, through the `replicate` npm client. See
 * runner-client.ts for the interface.
 *
 * Predictions are created asynchronously with a webhook filtered to `completed`; Replicate signs
 * each delivery with the Standard Webhooks scheme under the account's webhook secret
 * (REPLICATE_WEBHOOK_SECRET, from `GET /v1/webhooks/default/secret`). Replicate assigns its own
 * prediction ids, so the edit records the id the create call returns.
 */
import Replicate from 'replicate'

import {
  PredictionErrorSchema,
  PredictionResponseSchema,
  type PredictionResponse,
} from '../../shared/schemas/prediction.ts'
import type { RunnerClient } from './runner-client.ts'
import { RunnerCallError } from './runner-errors.ts'
import { verifySignedDelivery } from './runner-http.ts'

export function createReplicateRunnerClient(options: {
  apiToken: string
  deploymentOwner: string
  deploymentName: string
  baseUrl: string
  webhookSecret: string
  fetcher?: typeof fetch
}): RunnerClient {
  const { apiToken, deploymentOwner, deploymentName, baseUrl, webhookSecret } = options
  // Workers reject a fetch called with a `this` other than the global scope, so bind it.
  const fetcher = (options.fetcher ?? fetch).bind(globalThis)
  const replicate = new Replicate({ auth: apiToken, baseUrl, fetch: fetcher, useFileOutput: false })

  return {
    kind: 'replicate',
    async submit(request) {
      const created = await callReplicate(() =>
        replicate.deployments.predictions.create(deploymentOwner, deploymentName, {
          input: request.input,
          webhook: request.webhookUrl,
          webhook_events_filter: ['completed'],
        })
      )
      const prediction = toPredictionResponse(created)
      if (prediction.status === 'succeeded' || prediction.status === 'failed') {
        return { kind: 'finished', prediction }
      }
      return { kind: 'accepted', predictionId: prediction.id }
    },
    verifyWebhook: (delivery) => verifySignedDelivery(webhookSecret, delivery),
    async getPrediction(predictionId) {
      return toPredictionResponse(
        await callReplicate(() => replicate.predictions.get(predictionId))
      )
    },
  }
}

async function callReplicate<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    const status = apiErrorStatus(error)
    if (status !== undefined) {
      const retryable = status === 429 || status >= 500
      throw new RunnerCallError(`Replicate responded with HTTP ${status}.`, {
        slug: retryable ? 'runner-unavailable' : 'runner-failed',
        retryable,
        cause: error,
      })
    }
    throw new RunnerCallError('Replicate could not be reached.', {
      slug: 'runner-unavailable',
      retryable: true,
      cause: error,
    })
  }
}

// The client throws ApiError (name "ApiError", with the Response) for a non-2xx response. Its
// type declarations export only an interface, so the check goes by shape.
function apiErrorStatus(error: unknown): number | undefined {
  if (!(error instanceof Error) || error.name !== 'ApiError' || !('response' in error))
    return undefined
  const response = error.response
  return response instanceof Response ? response.status : undefined
}

/**
 * Parses a Replicate prediction into the runner contract's response. Replicate reports a failure
 * as a string in `error`; a runner that raises with a JSON error object keeps its slug this way.
 */
export function toPredictionResponse(value: unknown): PredictionResponse {
  const parsed = PredictionResponseSchema.safeParse(value)
  if (!parsed.success) {
    throw new RunnerCallError('Replicate returned a prediction this API cannot read.', {
      slug: 'runner-failed',
      retryable: false,
      cause: parsed.error,
    })
  }
  const prediction = parsed.data
  if (prediction.status !== 'failed' || prediction.error_details || !prediction.error)
    return prediction

  const details = PredictionErrorSchema.safeParse(parseJson(prediction.error))
  return details.success ? { ...prediction, error_details: details.data } : prediction
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    // Most failures carry a plain message; the caller then keeps it as it is.
    return undefined
  }
}
