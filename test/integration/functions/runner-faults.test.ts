// Edits whose runner is down, returns nonsense, hangs, or is misconfigured. The stubs here only
// inject faults a real runner cannot be made to produce on demand: a malformed reply and a hang.
// A runner that is down is a loopback port with nothing listening.
import { readFile } from 'node:fs/promises'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { problemType } from '../../../shared/problems.ts'
import type { EditJob, Usage } from '../../../shared/schemas/api.ts'
import { verifyPayload } from '../../../shared/signing.ts'
import {
  closedPortUrl,
  pollEdit,
  startLoopbackServer,
  waitFor,
  type LoopbackServer,
} from '../../helpers/worker-fixtures.ts'
import {
  bearer,
  readJson,
  readProblem,
  startTestWorker,
  type TestWorker,
} from '../../helpers/worker.ts'

let tinyJpeg: Buffer

beforeAll(async () => {
  tinyJpeg = await readFile('test/fixtures/photos/navy-officer-portrait-tiny.jpg')
})

function postEdit(
  worker: TestWorker,
  key: string,
  options: { prefer?: string; body?: object } = {}
) {
  return worker.request('/v1/edits', {
    method: 'POST',
    headers: {
      ...bearer(key),
      'Content-Type': 'application/json',
      Prefer: options.prefer ?? 'respond-async',
    },
    body: JSON.stringify({
      image_base64: tinyJpeg.toString('base64'),
      entity: 'person',
      prompt: 'a robot',
      ...options.body,
    }),
  })
}

async function ledgerRows(worker: TestWorker): Promise<number> {
  const row = await worker.db
    .prepare('SELECT COUNT(*) AS n FROM usage_ledger')
    .first<{ n: number }>()
  return row?.n ?? -1
}

describe('runner down', () => {
  let worker: TestWorker
  let key: string

  beforeAll(async () => {
    worker = await startTestWorker({
      vars: { RUNNER_URL: await closedPortUrl(), RUNNER_MAX_ATTEMPTS: '3' },
    })
    key = (await worker.createKey({ credits: 5 })).key
  })

  afterAll(async () => {
    await worker.dispose()
  })

  it('fails the edit after three attempts', async () => {
    const res = await postEdit(worker, key, { prefer: 'wait=20' })

    expect(res.status).toBe(503)
    expect(res.headers.get('location')).toMatch(/^\/v1\/edits\/edt_/)
    const problem = await readProblem(res)
    expect(problem.type).toBe(problemType('runner-unavailable'))
    expect(problem.detail).toBe(
      'The runner call failed 3 times. The last error: The runner could not be reached.'
    )
    const edit = await pollEdit(worker, { key, editId: problem.edit_id ?? '' })
    expect(edit.status).toBe('failed')
    expect(edit.attempts).toBe(3)
    expect(edit.error?.type).toBe(problemType('runner-unavailable'))
  })

  it('logs attempts under the request id', async () => {
    const res = await postEdit(worker, key, { prefer: 'wait=20' })
    const requestId = res.headers.get('request-id')
    await res.body?.cancel()

    const attemptLines = worker.logs
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.event === 'runner.call_failed' && line.requestId === requestId)
    expect(attemptLines.map((line) => line.attempt)).toEqual([1, 2, 3])
  })

  it('charges nothing for failed edits', async () => {
    const usage = await readJson<Usage>(await worker.request('/v1/usage', { headers: bearer(key) }))

    expect(await ledgerRows(worker)).toBe(0)
    expect(usage.credits).toEqual({ total: 5, used: 0, reserved: 0, remaining: 5 })
    expect(usage.edits.failed).toBe(2)
  })
})

describe('runner that returns nonsense', () => {
  let worker: TestWorker
  let runner: LoopbackServer
  let key: string

  beforeAll(async () => {
    runner = await startLoopbackServer((_request, response) => {
      response.setHeader('Content-Type', 'application/json')
      response.end('{"hello":"world"}')
    })
    worker = await startTestWorker({ vars: { RUNNER_URL: runner.url, RUNNER_MAX_ATTEMPTS: '2' } })
    key = (await worker.createKey()).key
  })

  afterAll(async () => {
    await worker.dispose()
    await runner.close()
  })

  it('retries, then fails the edit', async () => {
    const created = await readJson<EditJob>(await postEdit(worker, key))

    const edit = await pollEdit(worker, { key, editId: created.id })

    expect(edit.status).toBe('failed')
    expect(edit.error).toMatchObject({
      type: problemType('runner-failed'),
      detail:
        'The runner call failed 2 times. The last error: The runner responded with a body that is not a prediction.',
    })
  })

  it('sends one prediction per attempt', async () => {
    const created = await readJson<EditJob>(
      await postEdit(worker, key, { body: { steps: 7, seed: 3 } })
    )
    await pollEdit(worker, { key, editId: created.id })

    const calls = runner.received.filter((request) => request.url.includes(created.id))
    expect(calls.map((call) => `${call.method} ${call.url}`)).toEqual([
      `PUT /predictions/${created.id}-1`,
      `PUT /predictions/${created.id}-2`,
    ])
    const body = JSON.parse(calls[0]?.body.toString() ?? '{}')
    expect(body.id).toBe(`${created.id}-1`)
    expect(body.input).toMatchObject({ entity: 'person', prompt: 'a robot', steps: 7, seed: 3 })
    expect(new URL(body.input.image).pathname).toBe(
      `/v1/blobs/inputs/sha256/${created.input.sha256}`
    )
    expect(new URL(body.input.output_image_url).pathname).toBe(
      `/v1/blobs/edits/${created.id}/1/image.png`
    )
    expect(new URL(body.input.output_mask_url).searchParams.get('method')).toBe('PUT')
    expect(body.input).not.toHaveProperty('mask')
  })
})

describe('runner that hangs', () => {
  let worker: TestWorker
  let runner: LoopbackServer
  let key: string

  beforeAll(async () => {
    // Never responds, so the worker's RUNNER_TIMEOUT_S ends each call.
    runner = await startLoopbackServer(() => undefined)
    worker = await startTestWorker({
      vars: { RUNNER_URL: runner.url, RUNNER_MAX_ATTEMPTS: '1', RUNNER_TIMEOUT_S: '1' },
    })
    key = (await worker.createKey()).key
  })

  afterAll(async () => {
    await worker.dispose()
    await runner.close()
  })

  it('answers 202 when the wait runs out', async () => {
    const res = await postEdit(worker, key, { prefer: 'wait=0' })

    expect(res.status).toBe(202)
    expect(res.headers.get('preference-applied')).toBe('wait=0')
    expect(res.headers.get('retry-after')).toBe('1')
    const edit = (await res.json()) as EditJob
    expect(res.headers.get('location')).toBe(`/v1/edits/${edit.id}`)
    expect(edit.status).toBe('queued')
    await pollEdit(worker, { key, editId: edit.id })
  })

  it('fails the edit as timed out', async () => {
    const created = await readJson<EditJob>(await postEdit(worker, key))

    const edit = await pollEdit(worker, { key, editId: created.id })

    expect(edit.status).toBe('failed')
    expect(edit.error).toMatchObject({
      type: problemType('timed-out'),
      detail: 'The runner did not respond within 1 s.',
    })
  })
})

describe('runner that reports entity-not-found', () => {
  let worker: TestWorker
  let runner: LoopbackServer
  let key: string
  let delivered: { url: string; body: string } | undefined

  beforeAll(async () => {
    // Accepts asynchronously, then posts a failed prediction to the webhook. The tiny profile's
    // not-found threshold is -1, so a real tiny runner cannot report this failure on demand.
    runner = await startLoopbackServer(async (request, response) => {
      const body = JSON.parse(request.body.toString()) as { id: string; webhook: string }
      response.statusCode = 202
      response.setHeader('Content-Type', 'application/json')
      response.end(JSON.stringify({ id: body.id, status: 'starting' }))
      const failed = JSON.stringify({
        id: body.id,
        status: 'failed',
        error: 'No region matches "unicorn".',
        error_details: {
          slug: 'entity-not-found',
          detail:
            'No region matches "unicorn": the best score is 0.120, below the threshold 0.150.',
          retryable: false,
          candidates: [{ bbox: [0, 0, 10, 10], area: 100, score: 0.12 }],
        },
      })
      delivered = { url: body.webhook, body: failed }
      await fetch(body.webhook, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: failed,
      })
    })
    worker = await startTestWorker({ vars: { RUNNER_URL: runner.url, RUNNER_MODE: 'webhook' } })
    key = (await worker.createKey({ credits: 3 })).key
  })

  afterAll(async () => {
    await worker.dispose()
    await runner.close()
  })

  it('returns the problem with candidates', async () => {
    const res = await postEdit(worker, key, { prefer: 'wait=20', body: { entity: 'unicorn' } })

    expect(res.status).toBe(422)
    expect(await readProblem(res)).toMatchObject({
      type: problemType('entity-not-found'),
      detail: 'No region matches "unicorn": the best score is 0.120, below the threshold 0.150.',
      candidates: [{ bbox: [0, 0, 10, 10], area: 100, score: 0.12 }],
    })
  })

  it('ignores a duplicated delivery', async () => {
    const before = await readJson<Usage>(
      await worker.request('/v1/usage', { headers: bearer(key) })
    )

    const res = await fetch(delivered?.url ?? '', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: delivered?.body,
    })

    expect(res.status).toBe(204)
    const after = await readJson<Usage>(await worker.request('/v1/usage', { headers: bearer(key) }))
    expect(after.edits).toEqual(before.edits)
    expect(after.credits).toEqual({ total: 3, used: 0, reserved: 0, remaining: 3 })
  })
})

describe('consumer that keeps failing', () => {
  let worker: TestWorker
  let key: string

  beforeAll(async () => {
    // A replicate runner without its settings makes every dispatch throw.
    worker = await startTestWorker({ vars: { RUNNER_KIND: 'replicate' } })
    key = (await worker.createKey()).key
  })

  afterAll(async () => {
    await worker.dispose()
  })

  it('fails the edit from the dead-letter queue', async () => {
    const created = await readJson<EditJob>(await postEdit(worker, key))

    const edit = await pollEdit(worker, { key, editId: created.id })

    expect(edit.status).toBe('failed')
    expect(edit.error?.type).toBe(problemType('runner-unavailable'))
    expect(edit.error?.detail).toMatch(/^The edit could not be run after \d attempt\(s\)\./)
    expect(worker.logs.some((line) => line.includes('"event":"queue.message_failed"'))).toBe(true)
  })
})

describe('caller webhook', () => {
  let worker: TestWorker
  let receiver: LoopbackServer
  let key: string
  let webhookSecret: string
  let answers: number[]

  beforeAll(async () => {
    answers = [500, 200]
    receiver = await startLoopbackServer((_request, response) => {
      response.statusCode = answers.shift() ?? 200
      response.end()
    })
    worker = await startTestWorker({
      vars: { RUNNER_URL: await closedPortUrl(), RUNNER_MAX_ATTEMPTS: '1' },
    })
    const created = await worker.createKey()
    key = created.key
    webhookSecret = created.record.webhookSecret
  })

  afterAll(async () => {
    await worker.dispose()
    await receiver.close()
  })

  it('delivers the finished edit, retrying once', async () => {
    const created = await readJson<EditJob>(
      await postEdit(worker, key, { body: { webhook_url: `${receiver.url}/hook` } })
    )

    const deliveries = await waitFor(async () =>
      receiver.received.length >= 2 ? receiver.received : undefined
    )

    const [first, second] = deliveries
    expect(second?.headers['semani-delivery']).toBe(first?.headers['semani-delivery'])
    expect(second?.headers['semani-event']).toBe('edit.finished')
    const body = JSON.parse(second?.body.toString() ?? '{}') as EditJob
    expect(body).toMatchObject({ id: created.id, status: 'failed' })
  })

  it('signs the raw body', async () => {
    const delivery = await waitFor(async () => receiver.received.at(-1))

    const check = await verifyPayload({
      secret: webhookSecret,
      body: delivery.body.toString(),
      header: String(delivery.headers['semani-signature']),
      nowS: Math.floor(Date.now() / 1000),
    })
    expect(check.ok).toBe(true)
  })

  it('rejects a webhook_url with credentials', async () => {
    // Address classes are tested on the classifier alone; this only shows the route applies it.
    const res = await postEdit(worker, key, {
      body: { webhook_url: 'http://user:pw@127.0.0.1:9/h' },
    })

    expect(res.status).toBe(400)
    expect((await readProblem(res)).detail).toBe(
      'webhook_url is not allowed: URLs with credentials are not allowed.'
    )
  })
})
