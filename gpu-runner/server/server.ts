/**
 * The runner's HTTP contract (Cog's prediction API) as a Hono app. Handlers parse, call the
 * prediction service and shape the response; no model code is reachable from here except through
 * the injected pipeline.
 *
 * Routes: `GET /`, `GET /health-check`, `GET /openapi.json`, `POST /predictions`,
 * `PUT /predictions/{id}`, `POST /predictions/{id}/cancel`.
 * A request-level error (invalid body, refused URL, conflict, queue full, not ready) is an
 * RFC 9457 problem. A prediction that was accepted and then failed is a prediction object with
 * status `failed` and `error_details`, as in Cog.
 */
import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'

import { ApiProblem } from '../../shared/problems.ts'
import { MAX_IMAGE_BYTES } from '../../shared/limits.ts'
import { RunnerError } from '../errors.ts'
import type { OutboundPolicy } from '../fetch/url-policy.ts'
import { log } from '../log.ts'
import { buildOpenApiDocument } from './openapi.ts'
import { parsePredictionRequest } from './prediction-input.ts'
import type { PredictionService } from './predictions.ts'
import type { PredictionQueue } from './queue.ts'
import type { RunnerSetup } from './setup-state.ts'

/** Health values of Cog's `GET /health-check`. */
export type HealthStatus = 'STARTING' | 'READY' | 'BUSY' | 'SETUP_FAILED'

/**
 * Largest request body: an image and a mask as base64 data URIs (4 characters per 3 bytes)
 * plus room for the other fields.
 */
export const MAX_REQUEST_BODY_BYTES = 2 * Math.ceil((MAX_IMAGE_BYTES * 4) / 3) + 64 * 1024

export interface RunnerAppDependencies {
  readonly setup: RunnerSetup
  readonly predictions: PredictionService
  readonly queue: PredictionQueue
  readonly policy: OutboundPolicy
  /** True once shutdown has begun; new predictions are refused. */
  readonly isDraining: () => boolean
  readonly maxBodyBytes?: number
}

/** Builds the Hono app that serves the prediction contract. */
export function createRunnerApp(deps: RunnerAppDependencies): Hono {
  const app = new Hono()
  const openApiDocument = buildOpenApiDocument()
  const limitBody = bodyLimit({
    maxSize: deps.maxBodyBytes ?? MAX_REQUEST_BODY_BYTES,
    onError: (c) =>
      renderProblem(
        c,
        new ApiProblem(
          'payload-too-large',
          `The request body is larger than ${deps.maxBodyBytes ?? MAX_REQUEST_BODY_BYTES} bytes; send images as URLs.`
        )
      ),
  })

  app.use(async function logRequest(c, next) {
    const startedMs = performance.now()
    await next()
    const fields = {
      method: c.req.method,
      route: c.req.routePath,
      status: c.res.status,
      durationMs: Math.round(performance.now() - startedMs),
    }
    if (c.req.path === '/health-check') log.debug('request.completed', fields)
    else log.info('request.completed', fields)
  })

  app.get('/', (c) =>
    c.json({
      openapi_url: '/openapi.json',
      healthcheck_url: '/health-check',
      predictions_url: '/predictions',
      predictions_idempotent_url: '/predictions/{prediction_id}',
      predictions_cancel_url: '/predictions/{prediction_id}/cancel',
    })
  )
  app.get('/health-check', (c) =>
    c.json({ status: healthStatus(deps), setup: deps.setup.toReport() })
  )
  app.get('/openapi.json', (c) => c.json(openApiDocument))
  app.post('/predictions', limitBody, (c) => createPrediction(c, deps, undefined))
  app.put('/predictions/:id', limitBody, (c) => createPrediction(c, deps, c.req.param('id')))
  app.post('/predictions/:id/cancel', (c) => cancelPrediction(c, deps))

  app.notFound((c) =>
    renderProblem(c, new ApiProblem('not-found', `No route for ${c.req.method} ${c.req.path}.`))
  )
  app.onError((error, c) => renderProblem(c, toApiProblem(error, c)))
  return app
}

/** Computes the health status; BUSY means a new prediction would be refused right now. */
export function healthStatus(deps: RunnerAppDependencies): HealthStatus {
  if (deps.setup.status === 'failed') return 'SETUP_FAILED'
  if (deps.setup.status === 'starting') return 'STARTING'
  return deps.queue.isFull || deps.isDraining() ? 'BUSY' : 'READY'
}

async function createPrediction(
  c: Context,
  deps: RunnerAppDependencies,
  pathId: string | undefined
) {
  const body = await readJsonBody(c)
  const request = parsePredictionRequest(body, {
    ...(pathId === undefined ? {} : { pathId }),
    policy: deps.policy,
  })
  const isRetry = request.id !== undefined && deps.predictions.find(request.id) !== undefined
  if (!isRetry) assertAccepting(deps)

  const { record } = deps.predictions.create(request, { idempotent: pathId !== undefined })
  if (prefersAsync(c)) return c.json(record.toResponse(), 202)

  await record.settled
  return c.json(record.toResponse(), 200)
}

function cancelPrediction(c: Context, deps: RunnerAppDependencies) {
  const id = c.req.param('id') ?? ''
  const record = deps.predictions.cancel(id)
  if (record === undefined) {
    throw new ApiProblem('not-found', `No prediction with id "${id}" is held by this runner.`)
  }
  return c.json(record.toResponse(), 200)
}

function assertAccepting(deps: RunnerAppDependencies): void {
  if (deps.isDraining()) {
    throw new ApiProblem(
      'runner-unavailable',
      'The runner is shutting down; send the prediction to another runner.',
      { retryAfterS: 5 }
    )
  }
  if (deps.setup.status === 'starting') {
    throw new ApiProblem(
      'runner-unavailable',
      'The runner is still loading its models; retry shortly.',
      { retryAfterS: 5 }
    )
  }
  if (deps.setup.status === 'failed') {
    throw new ApiProblem(
      'runner-unavailable',
      'The runner failed to load its models; GET /health-check shows why.'
    )
  }
}

async function readJsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json()
  } catch (error) {
    throw new ApiProblem('invalid-request', 'The request body is not valid JSON.', { cause: error })
  }
}

// `Prefer` may list several preferences, e.g. `respond-async, wait=10` (RFC 7240).
function prefersAsync(c: Context): boolean {
  const prefer = c.req.header('prefer') ?? ''

  return prefer.split(',').some((preference) => preference.trim().toLowerCase() === 'respond-async')
}

function toApiProblem(error: unknown, c: Context): ApiProblem {
  if (error instanceof ApiProblem) return error
  if (error instanceof RunnerError) {
    const retryAfterS = error.details.retryAfterS
    return new ApiProblem(error.slug, error.message, {
      cause: error,
      ...(typeof retryAfterS === 'number' ? { retryAfterS } : {}),
    })
  }

  log.error('request.failed', { method: c.req.method, route: c.req.routePath, error })
  return new ApiProblem('internal', 'The runner failed unexpectedly; its log has the cause.')
}

function renderProblem(c: Context, problem: ApiProblem): Response {
  const requestId = c.req.header('x-request-id')
  const body = problem.toBody({ instance: c.req.path, ...(requestId ? { requestId } : {}) })
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' }
  if (problem.extra.retryAfterS !== undefined)
    headers['retry-after'] = String(problem.extra.retryAfterS)

  return new Response(JSON.stringify(body), { status: problem.status, headers })
}
