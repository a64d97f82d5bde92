/**
 * `POST /v1/runner-webhooks/{kind}/{edit id}`: finished predictions from asynchronous runners.
 *
 * A delivery must carry the signed query of its attempt (runner-client.ts) and, where the
 * runner signs, a valid Standard Webhooks signature over the raw body. Settling is idempotent,
 * so a replayed or duplicated delivery is acknowledged and changes nothing.
 */
import { Hono } from 'hono'

import { ApiProblem } from '../../shared/problems.ts'
import {
  PredictionResponseSchema,
  type PredictionResponse,
} from '../../shared/schemas/prediction.ts'
import type { AppEnv } from '../env.ts'
import { serviceContext } from '../services/context.ts'
import { findEdit } from '../services/jobs.ts'
import { checkRunnerWebhookQuery, createRunnerClient } from '../services/runner-client.ts'
import { toPredictionResponse } from '../services/runner-replicate.ts'
import { settlePrediction } from '../services/settle.ts'

export const runnerWebhooksRoutes = new Hono<AppEnv>()

runnerWebhooksRoutes.post('/:kind/:editId', async (c) => {
  const { kind, editId } = c.req.param()
  const ctx = serviceContext(c.env, { requestId: c.get('requestId'), editId })
  const nowS = Math.floor(Date.now() / 1000)
  const rawBody = await c.req.text()

  // 1. The query scopes the delivery to one attempt; the body signature proves its content
  const attempt = await checkRunnerWebhookQuery({
    secret: ctx.config.blobs.signingSecret,
    editId,
    query: new URL(c.req.url).searchParams,
    nowS,
  })
  const runner = createRunnerClient(ctx.config)
  if (attempt === undefined || kind !== runner.kind) {
    throw new ApiProblem(
      'forbidden',
      'This webhook URL is not valid. Use the URL exactly as the API sent it.'
    )
  }
  if (!(await runner.verifyWebhook({ headers: c.req.raw.headers, rawBody, nowS }))) {
    throw new ApiProblem(
      'forbidden',
      'The webhook signature is missing, stale or does not match the body.'
    )
  }

  // 2. Parse the prediction and match it to the attempt
  const prediction = parsePrediction(runner.kind, rawBody)
  const edit = await findEdit(c.env.DB, editId)
  if (!edit) throw new ApiProblem('not-found', `No edit ${editId} exists.`)
  // The http runner takes our id; Replicate's id is known once its create call has returned.
  const expectedId = runner.kind === 'http' ? `${editId}-${attempt}` : edit.predictionId
  if (expectedId !== null && expectedId !== prediction.id) {
    ctx.log.info('runner.webhook_ignored', { editId, attempt })
    return c.body(null, 204)
  }

  // 3. Settle; repeats are no-ops
  await settlePrediction(ctx, { edit, attempt, prediction })
  return c.body(null, 204)
})

function parsePrediction(kind: 'http' | 'replicate', rawBody: string): PredictionResponse {
  let value: unknown
  try {
    value = JSON.parse(rawBody)
  } catch (error) {
    throw new ApiProblem('invalid-request', 'The webhook body is not JSON.', { cause: error })
  }
  if (kind === 'replicate') return toPredictionResponse(value)

  const parsed = PredictionResponseSchema.safeParse(value)
  if (!parsed.success) {
    throw new ApiProblem('invalid-request', 'The webhook body is not a prediction.', {
      cause: parsed.error,
    })
  }
  return parsed.data
}
