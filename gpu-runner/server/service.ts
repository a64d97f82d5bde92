/**
 * Starts and stops the runner's HTTP service around an injected pipeline loader.
 *
 * Start: listen first (health STARTING), then load the pipeline (READY or SETUP_FAILED).
 * Stop: refuse new predictions, stop listening, let running and queued predictions finish and
 * their webhooks go out (bounded by `drainTimeoutMs`), close connections, release the models.
 */
import type { AddressInfo } from 'node:net'

import { createAdaptorServer } from '@hono/node-server'
import type { Hono } from 'hono'

import { MAX_IMAGE_BYTES } from '../../shared/limits.ts'
import type { FetchLimits } from '../fetch/fetch-image.ts'
import { createOutboundPolicy } from '../fetch/url-policy.ts'
import { log } from '../log.ts'
import type { PipelineLoader } from './pipeline-port.ts'
import { PredictionService, type RetentionLimits } from './predictions.ts'
import { PredictionQueue } from './queue.ts'
import { createRunnerApp } from './server.ts'
import { RunnerSetup } from './setup-state.ts'

/**
 * Maximum wait for queued webhook requests at shutdown: a `completed` request gets 3 attempts
 * of up to 10 s each with 2.5 s of backoff between them.
 */
const WEBHOOK_DRAIN_TIMEOUT_MS = 35_000

/** Defaults of the service options; the command line documents each. */
export const RUNNER_DEFAULTS = {
  host: '127.0.0.1',
  port: 5000,
  concurrency: 1,
  queueCapacity: 8,
  timeoutMs: 600_000,
  uploadTimeoutMs: 60_000,
  drainTimeoutMs: 600_000,
  fetchLimits: { maxBytes: MAX_IMAGE_BYTES, timeoutMs: 30_000, maxRedirects: 3 },
} as const

export interface RunnerServiceOptions {
  readonly loadPipeline: PipelineLoader
  readonly trustedPrefixes: readonly string[]
  /** Allows loopback addresses and plain http for outbound requests (tests, local stack). */
  readonly local?: boolean
  readonly host?: string
  /** 0 picks a free port; the bound port is in `RunnerService.port` and the listening log line. */
  readonly port?: number
  readonly concurrency?: number
  readonly queueCapacity?: number
  readonly timeoutMs?: number
  readonly uploadTimeoutMs?: number
  readonly drainTimeoutMs?: number
  readonly fetchLimits?: Partial<FetchLimits>
  readonly retention?: RetentionLimits
}

/** A started runner. */
export interface RunnerService {
  readonly url: string
  readonly port: number
  readonly app: Hono
  /** Resolves when setup has finished, successfully or not. */
  readonly setupDone: Promise<void>
  /** Drains and stops; calling it again returns the same promise. */
  shutdown(): Promise<void>
}

/**
 * Starts listening and begins loading the pipeline.
 *
 * @throws RangeError on an invalid trusted prefix or queue limit; the listen error when the port
 *   is taken.
 */
export async function startRunnerService(options: RunnerServiceOptions): Promise<RunnerService> {
  const host = options.host ?? RUNNER_DEFAULTS.host
  const drainTimeoutMs = options.drainTimeoutMs ?? RUNNER_DEFAULTS.drainTimeoutMs
  const policy = createOutboundPolicy({
    trustedPrefixes: options.trustedPrefixes,
    local: options.local ?? false,
  })
  const queue = new PredictionQueue({
    concurrency: options.concurrency ?? RUNNER_DEFAULTS.concurrency,
    capacity: options.queueCapacity ?? RUNNER_DEFAULTS.queueCapacity,
  })
  const setup = new RunnerSetup()
  const predictions = new PredictionService({
    getPipeline: () => setup.pipeline,
    queue,
    policy,
    fetchLimits: { ...RUNNER_DEFAULTS.fetchLimits, ...options.fetchLimits },
    timeoutMs: options.timeoutMs ?? RUNNER_DEFAULTS.timeoutMs,
    uploadTimeoutMs: options.uploadTimeoutMs ?? RUNNER_DEFAULTS.uploadTimeoutMs,
    ...(options.retention ? { retention: options.retention } : {}),
  })
  let draining = false
  const app = createRunnerApp({ setup, predictions, queue, policy, isDraining: () => draining })

  const server = createAdaptorServer({ fetch: app.fetch })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? RUNNER_DEFAULTS.port, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  log.info('runner.listening', {
    host,
    port,
    local: policy.local,
    trustedPrefixes: policy.trustedPrefixes.map((prefix) => prefix.href),
    concurrency: queue.limits.concurrency,
    queueCapacity: queue.limits.capacity,
  })

  const setupDone = setup.load(options.loadPipeline)
  let stopping: Promise<void> | undefined

  async function stop(): Promise<void> {
    draining = true
    log.info('runner.draining', { running: queue.running, waiting: queue.waiting })
    const closed = new Promise((resolve) => server.close(resolve))

    const drained = await settleWithin(queue.whenIdle(), drainTimeoutMs)
    if (!drained)
      log.warn('runner.drain_timed_out', {
        running: queue.running,
        waiting: queue.waiting,
        drainTimeoutMs,
      })
    await settleWithin(predictions.drainWebhooks(), WEBHOOK_DRAIN_TIMEOUT_MS)
    if ('closeIdleConnections' in server) server.closeIdleConnections()
    if (!(await settleWithin(closed, 5_000)) && 'closeAllConnections' in server)
      server.closeAllConnections()

    await settleWithin(setupDone, 5_000)
    await setup.pipeline?.release()
    log.info('runner.stopped', {})
  }

  return {
    url,
    port,
    app,
    setupDone,
    shutdown: () => (stopping ??= stop()),
  }
}

/** Waits for `work` at most `timeoutMs`; returns whether it settled in time. */
async function settleWithin(work: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs)
  })
  const settled = work.then(
    () => true as const,
    () => true as const
  )
  const result = await Promise.race([settled, expired])
  clearTimeout(timer)
  return result
}
