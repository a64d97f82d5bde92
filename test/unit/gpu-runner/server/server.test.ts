import { getEventListeners } from 'node:events'

import { describe, expect, it } from 'vitest'

import { problemType, type ProblemBody } from '../../../../shared/problems.ts'
import {
  PredictionResponseSchema,
  type PredictionResponse,
} from '../../../../shared/schemas/prediction.ts'
import { RunnerError } from '../../../../gpu-runner/errors.ts'
import { createOutboundPolicy } from '../../../../gpu-runner/fetch/url-policy.ts'
import type { EditPipelineRequest } from '../../../../gpu-runner/pipeline/types.ts'
import type { PipelineLoader, RunnerPipeline } from '../../../../gpu-runner/server/pipeline-port.ts'
import { PredictionService } from '../../../../gpu-runner/server/predictions.ts'
import { PredictionQueue } from '../../../../gpu-runner/server/queue.ts'
import { createRunnerApp } from '../../../../gpu-runner/server/server.ts'
import { RunnerSetup, type SetupReport } from '../../../../gpu-runner/server/setup-state.ts'
import {
  startWebhookReceiver,
  type WebhookReceiver,
} from '../../../integration/gpu-runner/server/webhook-receiver.ts'

// These tests cover the HTTP layer without a real prediction. The injected pipeline only ever
// hangs (a run that has not finished yet) or fails; it never returns an edit result, so nothing
// here replaces model output. Real predictions run in the integration tests.

const TRUSTED = 'https://blobs.example.test/'
const TINY_PNG = 'data:image/png;base64,iVBORw0KGgo='

/** Builds a pipeline whose runs never finish by themselves; `ignoreSignal` also ignores aborts. */
function makeHangingPipeline(options: { ignoreSignal?: boolean } = {}) {
  const calls: EditPipelineRequest[] = []
  const pipeline: RunnerPipeline = {
    profile: 'tiny',
    modelRevisions: { 'hanging-stub': 'none' },
    run(request) {
      calls.push(request)
      return new Promise((_, reject) => {
        if (options.ignoreSignal) return
        request.signal?.addEventListener('abort', () =>
          reject(new RunnerError('canceled', 'Canceled between denoising steps.'))
        )
      })
    },
    release: async () => undefined,
  }
  return { pipeline, calls }
}

async function makeRunner(
  options: {
    loader?: PipelineLoader
    pipeline?: RunnerPipeline
    concurrency?: number
    capacity?: number
    timeoutMs?: number
    trustedPrefixes?: string[]
    maxBodyBytes?: number
  } = {}
) {
  const policy = createOutboundPolicy({
    trustedPrefixes: options.trustedPrefixes ?? [TRUSTED],
    local: true,
  })
  const queue = new PredictionQueue({
    concurrency: options.concurrency ?? 1,
    capacity: options.capacity ?? 4,
  })
  const setup = new RunnerSetup()
  const predictions = new PredictionService({
    getPipeline: () => setup.pipeline,
    queue,
    policy,
    fetchLimits: { maxBytes: 1024 * 1024, timeoutMs: 5_000, maxRedirects: 2 },
    timeoutMs: options.timeoutMs ?? 60_000,
    uploadTimeoutMs: 5_000,
    webhookThrottleMs: 20,
  })
  const app = createRunnerApp({
    setup,
    predictions,
    queue,
    policy,
    isDraining: () => false,
    ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
  })
  const pipeline = options.pipeline ?? makeHangingPipeline().pipeline
  const loading = setup.load(options.loader ?? (async () => pipeline))
  return { app, queue, predictions, setup, loading }
}

function makeInput(overrides: Record<string, unknown> = {}) {
  return { image: TINY_PNG, entity: 'dog', prompt: 'a white cat', ...overrides }
}

function post(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }
}

function put(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { ...post(body, headers), method: 'PUT' }
}

const ASYNC = { prefer: 'respond-async' }

async function problemOf(res: Response): Promise<ProblemBody> {
  return (await res.json()) as ProblemBody
}

// Parsing with the shared schema also checks that every response fits the contract.
async function predictionOf(res: Response): Promise<PredictionResponse> {
  return PredictionResponseSchema.parse(await res.json())
}

async function healthOf(res: Response): Promise<{ status: string; setup: SetupReport }> {
  return (await res.json()) as { status: string; setup: SetupReport }
}

interface OpenApiDocument {
  openapi: string
  paths: Record<string, unknown>
  components: {
    schemas: Record<string, { required?: string[]; properties: Record<string, unknown> }>
  }
}

describe('GET /health-check', () => {
  it('reports STARTING while loading', async () => {
    const { app } = await makeRunner({ loader: () => new Promise(() => undefined) })

    const body = await healthOf(await app.request('/health-check'))
    expect(body.status).toBe('STARTING')
    expect(body.setup.status).toBe('starting')
    expect(body.setup.completed_at).toBeNull()
  })

  it('reports READY after loading', async () => {
    const { app, loading } = await makeRunner()
    await loading

    const body = await healthOf(await app.request('/health-check'))
    expect(body.status).toBe('READY')
    expect(body.setup.status).toBe('succeeded')
    expect(body.setup.logs).toContain('Loaded profile tiny with 1 models')
  })

  it('reports SETUP_FAILED with the cause', async () => {
    const missing = new RunnerError('model-missing', 'Model file models/tiny/unet.onnx is missing.')
    const { app, loading } = await makeRunner({ loader: () => Promise.reject(missing) })
    await loading

    const body = await healthOf(await app.request('/health-check'))
    expect(body.status).toBe('SETUP_FAILED')
    expect(body.setup.status).toBe('failed')
    expect(body.setup.logs).toContain('Setup failed: Model file models/tiny/unet.onnx is missing.')
  })

  it('reports BUSY when the queue is full', async () => {
    const { app, loading } = await makeRunner({ capacity: 0 })
    await loading
    await app.request('/predictions', post({ input: makeInput() }, ASYNC))

    expect((await healthOf(await app.request('/health-check'))).status).toBe('BUSY')
  })
})

describe('GET /openapi.json', () => {
  it('describes input and output', async () => {
    const { app } = await makeRunner()

    const doc = (await (await app.request('/openapi.json')).json()) as OpenApiDocument
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.components.schemas.Input?.required).toEqual(['image'])
    expect(doc.components.schemas.Input?.properties.steps).toMatchObject({
      default: 50,
      maximum: 150,
    })
    expect(Object.keys(doc.components.schemas.Output?.properties ?? {})).toContain(
      'model_revisions'
    )
    expect(doc.components.schemas.PredictionRequest?.properties.input).toEqual({
      $ref: '#/components/schemas/Input',
    })
    expect(Object.keys(doc.paths)).toContain('/predictions/{prediction_id}/cancel')
  })
})

describe('POST /predictions', () => {
  it('rejects a body that is not JSON', async () => {
    const { app, loading } = await makeRunner()
    await loading

    const res = await app.request('/predictions', post('{not json'))
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await problemOf(res)).toMatchInlineSnapshot(`
      {
        "detail": "The request body is not valid JSON.",
        "instance": "/predictions",
        "status": 400,
        "title": "Invalid request",
        "type": "https://semani.dev/problems/invalid-request",
      }
    `)
  })

  it('rejects input without image', async () => {
    const { app, loading } = await makeRunner()
    await loading

    const res = await app.request('/predictions', post({ input: { entity: 'dog', prompt: 'cat' } }))
    expect(res.status).toBe(400)
    expect(await problemOf(res)).toMatchInlineSnapshot(`
      {
        "detail": "input.image: Invalid input: expected string, received undefined",
        "errors": [
          {
            "code": "invalid_type",
            "message": "Invalid input: expected string, received undefined",
            "path": "input.image",
          },
        ],
        "instance": "/predictions",
        "status": 400,
        "title": "Invalid request",
        "type": "https://semani.dev/problems/invalid-request",
      }
    `)
  })

  it('rejects unknown input fields', async () => {
    const { app, loading } = await makeRunner()
    await loading

    const res = await app.request('/predictions', post({ input: makeInput({ stepz: 4 }) }))
    const body = await problemOf(res)
    expect(res.status).toBe(400)
    expect(body.errors).toEqual([
      { path: 'input', code: 'unrecognized_keys', message: 'Unrecognized key: "stepz"' },
    ])
  })

  it('rejects entity without prompt', async () => {
    const { app, loading } = await makeRunner()
    await loading

    const res = await app.request(
      '/predictions',
      post({ input: { image: TINY_PNG, entity: 'dog' } })
    )
    expect((await problemOf(res)).errors).toEqual([
      {
        path: 'input.prompt',
        code: 'custom',
        message: 'Give `prompt` with `entity`; an empty prompt removes the entity.',
      },
    ])
  })

  it('refuses URLs outside the trusted prefixes', async () => {
    const { app, loading } = await makeRunner()
    await loading
    const input = makeInput({
      image: 'https://elsewhere.example.test/a.png?sig=secret',
      output_image_url: `${TRUSTED}out/a.png?sig=secret`,
    })

    const res = await app.request(
      '/predictions',
      post({ input, webhook: 'https://hooks.example.test/h' })
    )
    const body = await problemOf(res)
    expect(res.status).toBe(400)
    expect(body.type).toBe(problemType('invalid-request'))
    expect(body.errors?.map((issue) => issue.path)).toEqual(['input.image', 'webhook'])
    expect(body.errors?.[0]?.message).toBe(
      'The image URL (https://elsewhere.example.test/a.png) is outside the prefixes this runner trusts.'
    )
    expect(JSON.stringify(body)).not.toContain('secret')
  })

  it('refuses while models load', async () => {
    const { app } = await makeRunner({ loader: () => new Promise(() => undefined) })

    const res = await app.request('/predictions', post({ input: makeInput() }))
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('5')
    expect((await problemOf(res)).type).toBe(problemType('runner-unavailable'))
  })

  it('answers 202 for respond-async', async () => {
    const { app, loading } = await makeRunner()
    await loading

    const res = await app.request('/predictions', post({ input: makeInput() }, ASYNC))
    const body = await predictionOf(res)
    expect(res.status).toBe(202)
    expect(body.status).toBe('starting')
    expect(body.id).toMatch(/^[a-z2-7]{26}$/)
    expect((body.input as { image: string }).image).toBe('data:image/png;base64,… (12 characters)')
  })

  it('refuses when the queue is full', async () => {
    const { app, loading } = await makeRunner({ concurrency: 1, capacity: 1 })
    await loading

    expect((await app.request('/predictions', post({ input: makeInput() }, ASYNC))).status).toBe(
      202
    )
    expect((await app.request('/predictions', post({ input: makeInput() }, ASYNC))).status).toBe(
      202
    )
    const res = await app.request('/predictions', post({ input: makeInput() }, ASYNC))
    const body = await problemOf(res)
    expect(res.status).toBe(503)
    expect(body.type).toBe(problemType('queue-full'))
    expect(body.detail).toMatch(
      /^The runner is busy: 1 running and 1 waiting\. Retry after \d+ s\.$/
    )
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  })

  it('rejects a reused id', async () => {
    const { app, loading } = await makeRunner()
    await loading

    await app.request('/predictions', post({ id: 'job-1', input: makeInput() }, ASYNC))
    const res = await app.request('/predictions', post({ id: 'job-1', input: makeInput() }, ASYNC))
    expect(res.status).toBe(409)
    expect((await problemOf(res)).detail).toBe(
      'Prediction "job-1" already exists; retry it with PUT /predictions/job-1.'
    )
  })

  it('rejects an oversized body', async () => {
    const { app, loading } = await makeRunner({ maxBodyBytes: 1024 })
    await loading

    const res = await app.request(
      '/predictions',
      post({ input: makeInput({ image: TINY_PNG + 'A'.repeat(2000) }) })
    )
    expect(res.status).toBe(413)
    expect((await problemOf(res)).type).toBe(problemType('payload-too-large'))
  })
})

describe('PUT /predictions/{id}', () => {
  it('returns the same prediction again', async () => {
    const { pipeline, calls } = makeHangingPipeline()
    const { app, loading } = await makeRunner({ pipeline })
    await loading

    const first = await predictionOf(
      await app.request('/predictions/job-7', put({ input: makeInput() }, ASYNC))
    )
    await waitFor(() => calls.length === 1)
    const again = await app.request(
      '/predictions/job-7',
      put({ input: makeInput({ steps: 50 }) }, ASYNC)
    )
    expect(again.status).toBe(202)
    expect((await predictionOf(again)).created_at).toBe(first.created_at)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(calls).toHaveLength(1)
  })

  it('rejects the id with another input', async () => {
    const { app, loading } = await makeRunner()
    await loading

    await app.request('/predictions/job-8', put({ input: makeInput() }, ASYNC))
    const res = await app.request(
      '/predictions/job-8',
      put({ input: makeInput({ prompt: 'a fox' }) }, ASYNC)
    )
    expect(res.status).toBe(409)
    expect((await problemOf(res)).type).toBe(problemType('conflict'))
  })

  it('rejects a body id that differs', async () => {
    const { app, loading } = await makeRunner()
    await loading

    const res = await app.request('/predictions/job-9', put({ id: 'other', input: makeInput() }))
    expect(res.status).toBe(400)
    expect((await problemOf(res)).errors?.[0]?.path).toBe('id')
  })

  it('rejects ids with unsafe characters', async () => {
    const { app, loading } = await makeRunner()
    await loading

    const res = await app.request('/predictions/job%20one', put({ input: makeInput() }))
    expect(res.status).toBe(400)
    expect((await problemOf(res)).errors?.[0]?.path).toBe('path.id')
  })
})

describe('POST /predictions/{id}/cancel', () => {
  it('cancels a running prediction', async () => {
    const { pipeline, calls } = makeHangingPipeline()
    const { app, loading, queue } = await makeRunner({ pipeline })
    await loading
    await app.request('/predictions/run-1', put({ input: makeInput() }, ASYNC))
    await waitFor(() => calls.length === 1)

    const res = await app.request('/predictions/run-1/cancel', { method: 'POST' })
    expect(res.status).toBe(200)
    await waitFor(() => queue.isIdle)
    expect(calls[0]?.signal?.aborted).toBe(true)
    const final = await predictionOf(
      await app.request('/predictions/run-1', put({ input: makeInput() }))
    )
    expect(final.status).toBe('canceled')
  })

  it('cancels a queued prediction at once', async () => {
    const { pipeline, calls } = makeHangingPipeline()
    const { app, loading } = await makeRunner({ pipeline })
    await loading
    await app.request('/predictions/first', put({ input: makeInput() }, ASYNC))
    await app.request('/predictions/second', put({ input: makeInput() }, ASYNC))

    await waitFor(() => calls.length === 1)

    const body = await predictionOf(
      await app.request('/predictions/second/cancel', { method: 'POST' })
    )
    expect(body.status).toBe('canceled')
    expect(body.started_at).toBeNull()
    expect(calls).toHaveLength(1)
  })

  it('answers 404 for unknown ids', async () => {
    const { app, loading } = await makeRunner()
    await loading

    const res = await app.request('/predictions/nope/cancel', { method: 'POST' })
    expect(res.status).toBe(404)
    expect((await problemOf(res)).detail).toBe(
      'No prediction with id "nope" is held by this runner.'
    )
  })

  it('sends webhook events in order', async () => {
    let receiver: WebhookReceiver | undefined
    try {
      receiver = await startWebhookReceiver()
      const { pipeline, calls } = makeHangingPipeline()
      const { app, loading } = await makeRunner({
        pipeline,
        trustedPrefixes: [TRUSTED, receiver.origin + '/'],
      })
      await loading
      const webhook = `${receiver.origin}/hooks/run-2`

      await app.request('/predictions/run-2', put({ input: makeInput(), webhook }, ASYNC))
      await waitFor(() => calls.length === 1)
      await app.request('/predictions/run-2/cancel', { method: 'POST' })
      const hooks = await receiver.waitForTerminal('/hooks/run-2')

      const statuses = hooks.map((hook) => hook.body.status)
      expect(statuses[0]).toBe('starting')
      expect(statuses.at(-1)).toBe('canceled')
      expect(statuses.filter((status) => status === 'canceled')).toHaveLength(1)
    } finally {
      await receiver?.close()
    }
  })
})

describe('prediction time limit', () => {
  it('fails a run that overruns', async () => {
    const { pipeline } = makeHangingPipeline({ ignoreSignal: true })
    const { app, loading, queue } = await makeRunner({ pipeline, timeoutMs: 100 })
    await loading

    const body = await predictionOf(await app.request('/predictions', post({ input: makeInput() })))
    expect(body.status).toBe('failed')
    expect(body.error_details).toEqual({
      slug: 'timed-out',
      detail:
        'The prediction did not finish within 0.1 s; retry with fewer steps or a smaller image.',
      retryable: true,
    })
    // The run ignored its signal, so it keeps the slot and nothing else may start on it.
    expect(queue.running).toBe(1)
  })
})

describe('finished prediction', () => {
  it('leaves no abort listeners', async () => {
    // Listeners left on a kept record's signal once kept every output's bytes reachable.
    const failing: RunnerPipeline = {
      profile: 'tiny',
      modelRevisions: {},
      run: () => Promise.reject(new RunnerError('out-of-memory', 'Device ran out of memory.')),
      release: async () => undefined,
    }
    const { app, loading, predictions } = await makeRunner({ pipeline: failing })
    await loading

    const body = await predictionOf(
      await app.request('/predictions/done-1', put({ input: makeInput() }))
    )
    const record = predictions.find('done-1')

    expect(body.status).toBe('failed')
    expect(getEventListeners(record?.controller.signal as AbortSignal, 'abort')).toHaveLength(0)
  })
})

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
