/**
 * A loopback server that speaks the part of Replicate's HTTP API the edge uses, in front of a
 * real runner process:
 *
 * - `POST /v1/deployments/{owner}/{name}/predictions` returns 201 with a `starting` prediction
 *   under a Replicate-style id, then runs the input on the runner (`PUT /predictions/{id}`,
 *   synchronous) and delivers the finished prediction to the request's `webhook`, signed with
 *   the Standard Webhooks scheme (webhook-id, webhook-timestamp, webhook-signature);
 * - `GET /v1/predictions/{id}` returns the prediction's current state.
 *
 * `failCreates` makes the first N create calls fail with HTTP 503, as Replicate does when a deployment
 * is overloaded.
 */
import { signStandardWebhook } from '../../shared/signing.ts'
import { startLoopbackServer, type LoopbackServer } from './worker-fixtures.ts'

export interface ReplicateStandIn {
  readonly baseUrl: string
  readonly server: LoopbackServer
  /** Webhook deliveries sent, with their headers and body, in order. */
  readonly deliveries: { url: string; headers: Record<string, string>; body: string }[]
  /** Create calls that will still fail with HTTP 503. */
  failCreates: number
  close(): Promise<void>
}

interface StoredPrediction {
  id: string
  status: string
  input: unknown
  output: unknown
  error: string | null
  logs: string
  metrics: Record<string, number>
  created_at: string
  started_at: string | null
  completed_at: string | null
}

export async function startReplicateStandIn(options: {
  runnerUrl: string
  webhookSecret: string
  apiToken: string
}): Promise<ReplicateStandIn> {
  const predictions = new Map<string, StoredPrediction>()
  const deliveries: ReplicateStandIn['deliveries'] = []
  let sequence = 0

  const standIn: ReplicateStandIn = {
    baseUrl: '',
    server: undefined as unknown as LoopbackServer,
    deliveries,
    failCreates: 0,
    close: () => server.close(),
  }

  const server = await startLoopbackServer(async (request, response) => {
    response.setHeader('Content-Type', 'application/json')
    if (request.headers.authorization !== `Bearer ${options.apiToken}`) {
      response.statusCode = 401
      response.end(JSON.stringify({ detail: 'Invalid token.' }))
      return
    }

    const create = /^\/v1\/deployments\/[^/]+\/[^/]+\/predictions$/.test(request.url)
    if (create && request.method === 'POST') {
      if (standIn.failCreates > 0) {
        standIn.failCreates -= 1
        response.statusCode = 503
        response.end(JSON.stringify({ detail: 'Deployment is overloaded.' }))
        return
      }
      const body = JSON.parse(request.body.toString()) as { input: unknown; webhook?: string }
      const prediction: StoredPrediction = {
        id: `rep${String(++sequence).padStart(8, '0')}`,
        status: 'starting',
        input: body.input,
        output: null,
        error: null,
        logs: '',
        metrics: {},
        created_at: new Date().toISOString(),
        started_at: null,
        completed_at: null,
      }
      predictions.set(prediction.id, prediction)
      response.statusCode = 201
      response.end(JSON.stringify(prediction))
      void runAndNotify(prediction, body.webhook)
      return
    }

    const read = /^\/v1\/predictions\/([^/]+)$/.exec(request.url)
    const stored = read ? predictions.get(read[1] ?? '') : undefined
    if (stored && request.method === 'GET') {
      response.end(JSON.stringify(stored))
      return
    }
    response.statusCode = 404
    response.end(JSON.stringify({ detail: 'Not found.' }))
  })

  async function runAndNotify(prediction: StoredPrediction, webhook: string | undefined) {
    prediction.status = 'processing'
    prediction.started_at = new Date().toISOString()
    const answer = await fetch(`${options.runnerUrl}/predictions/${prediction.id}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: prediction.id, input: prediction.input }),
    })
    const result = (await answer.json()) as {
      status?: string
      output?: unknown
      error?: string | null
      error_details?: unknown
    }
    // Replicate carries a failure as a string; the runner's structured error travels as JSON.
    prediction.status = answer.ok ? (result.status ?? 'failed') : 'failed'
    prediction.output = result.output ?? null
    prediction.error =
      prediction.status === 'failed'
        ? JSON.stringify(
            result.error_details ?? {
              slug: 'runner-failed',
              detail: String(result.error),
              retryable: false,
            }
          )
        : null
    prediction.completed_at = new Date().toISOString()
    prediction.metrics = {
      predict_time:
        (Date.parse(prediction.completed_at) - Date.parse(prediction.started_at ?? '')) / 1000,
    }
    if (webhook) await deliver(webhook, prediction)
  }

  async function deliver(url: string, prediction: StoredPrediction) {
    const body = JSON.stringify(prediction)
    const signed = await signStandardWebhook({
      secret: options.webhookSecret,
      id: `msg_${prediction.id}`,
      timestampS: Math.floor(Date.now() / 1000),
      body,
    })
    const headers = {
      'Content-Type': 'application/json',
      'webhook-id': signed.id,
      'webhook-timestamp': signed.timestamp,
      'webhook-signature': signed.signature,
    }
    deliveries.push({ url, headers, body })
    await fetch(url, { method: 'POST', headers, body })
  }

  return Object.assign(standIn, { baseUrl: `${server.url}/v1`, server })
}
