// Credits, rate limits, quotas, idempotency and key scoping. The runner here accepts the
// connection and never responds, so every edit stays open (and its units reserved) for the file.
import { readFile } from 'node:fs/promises'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { revokeApiKey } from '../../../functions/services/keys.ts'
import { problemType } from '../../../shared/problems.ts'
import type { EditJob } from '../../../shared/schemas/api.ts'
import { startLoopbackServer, type LoopbackServer } from '../../helpers/worker-fixtures.ts'
import {
  bearer,
  readJson,
  readProblem,
  startTestWorker,
  type TestWorker,
} from '../../helpers/worker.ts'

let worker: TestWorker
let runner: LoopbackServer
let tinyJpeg: Buffer

beforeAll(async () => {
  runner = await startLoopbackServer(() => undefined)
  worker = await startTestWorker({ vars: { RUNNER_URL: runner.url, RUNNER_TIMEOUT_S: '600' } })
  tinyJpeg = await readFile('test/fixtures/photos/navy-officer-portrait-tiny.jpg')
})

afterAll(async () => {
  await worker.dispose()
  await runner.close()
})

function postEdit(key: string, options: { body?: object; headers?: Record<string, string> } = {}) {
  return worker.request('/v1/edits', {
    method: 'POST',
    headers: {
      ...bearer(key),
      'Content-Type': 'application/json',
      Prefer: 'respond-async',
      ...options.headers,
    },
    body: JSON.stringify({
      image_base64: tinyJpeg.toString('base64'),
      entity: 'person',
      prompt: 'a robot',
      ...options.body,
    }),
  })
}

async function editCount(keyId: string): Promise<number> {
  const row = await worker.db
    .prepare('SELECT COUNT(*) AS n FROM edits WHERE key_id = ?')
    .bind(keyId)
    .first<{ n: number }>()
  return row?.n ?? -1
}

describe('credits', () => {
  it('rejects an edit beyond the credit', async () => {
    const { key, record } = await worker.createKey({ credits: 1 })
    expect((await postEdit(key)).status).toBe(202)

    const res = await postEdit(key)

    expect(res.status).toBe(402)
    expect(await readProblem(res)).toMatchObject({
      type: problemType('insufficient-credit'),
      detail:
        'This edit needs 1 credit and the key has 0 left (1 reserved by edits still running). ' +
        'Add credits to the key or wait for running edits to finish.',
      credits_needed: 1,
      credits_remaining: 0,
    })
    expect(await editCount(record.id)).toBe(1)
  })

  it('counts one credit per entity edit', async () => {
    const { key } = await worker.createKey({ credits: 1 })
    const edits = [
      { entity: 'person', prompt: 'a robot' },
      { entity: 'hat', prompt: 'a crown' },
    ]

    const res = await postEdit(key, { body: { entity: undefined, prompt: undefined, edits } })

    expect(res.status).toBe(402)
    expect((await readProblem(res)).credits_needed).toBe(2)
  })

  it('reports reserved units in usage', async () => {
    const { key } = await worker.createKey({ credits: 3 })
    await (await postEdit(key)).body?.cancel()

    const usage = await (await worker.request('/v1/usage', { headers: bearer(key) })).json()

    expect(usage).toMatchObject({
      credits: { total: 3, used: 0, reserved: 1, remaining: 2 },
      edits: { queued: expect.any(Number), running: expect.any(Number) },
    })
  })
})

describe('rate limits', () => {
  it('answers 429 past the per-minute limit', async () => {
    const { key } = await worker.createKey({ rateLimitPerMinute: 2 })
    for (let i = 0; i < 2; i++) {
      const ok = await worker.request('/v1/usage', { headers: bearer(key) })
      expect(ok.status).toBe(200)
      await ok.body?.cancel()
    }

    const res = await worker.request('/v1/usage', { headers: bearer(key) })

    // Two units per 60 s refill one unit every 30 s, less the time the three requests took.
    const retryAfterS = Number(res.headers.get('retry-after'))
    expect(res.status).toBe(429)
    expect(retryAfterS).toBeGreaterThanOrEqual(25)
    expect(retryAfterS).toBeLessThanOrEqual(30)
    expect(res.headers.get('ratelimit-policy')).toBe('"requests";q=2;w=60')
    expect(res.headers.get('ratelimit')).toMatch(/^"requests";r=0;t=(5\d|60)$/)
    expect(await readProblem(res)).toMatchObject({
      type: problemType('rate-limited'),
      detail: `The requests limit of this API key is used up. Retry after ${retryAfterS} s.`,
    })
  })

  it('keeps limits per key', async () => {
    const { key } = await worker.createKey({ rateLimitPerMinute: 1 })
    const other = await worker.createKey({ rateLimitPerMinute: 1 })
    await (await worker.request('/v1/usage', { headers: bearer(key) })).body?.cancel()

    const res = await worker.request('/v1/usage', { headers: bearer(other.key) })

    expect(res.status).toBe(200)
    await res.body?.cancel()
  })

  it('applies the daily edit quota', async () => {
    const { key, record } = await worker.createKey({ editsPerDay: 1 })
    expect((await postEdit(key)).status).toBe(202)

    const res = await postEdit(key)

    expect(res.status).toBe(429)
    expect(res.headers.get('ratelimit-policy')).toBe('"requests";q=60;w=60, "edits";q=1;w=86400')
    expect((await readProblem(res)).detail).toBe(
      'The edits limit of this API key is used up. Retry after 86400 s.'
    )
    expect(await editCount(record.id)).toBe(1)
  })
})

describe('Idempotency-Key', () => {
  it('returns the same edit for the same body', async () => {
    const { key, record } = await worker.createKey()
    const headers = { 'Idempotency-Key': 'order-1' }

    const first = await readJson<EditJob>(await postEdit(key, { headers }))
    const second = await readJson<EditJob>(await postEdit(key, { headers }))

    expect(second.id).toBe(first.id)
    expect(await editCount(record.id)).toBe(1)
  })

  it('treats multipart and base64 alike', async () => {
    const { key } = await worker.createKey()
    const headers = { 'Idempotency-Key': 'order-2' }
    const first = await readJson<EditJob>(await postEdit(key, { headers }))
    const form = new FormData()
    form.set('image', new Blob([new Uint8Array(tinyJpeg)], { type: 'image/jpeg' }), 'photo.jpg')
    form.set('entity', 'person')
    form.set('prompt', 'a robot')

    const res = await worker.request('/v1/edits', {
      method: 'POST',
      headers: { ...bearer(key), ...headers, Prefer: 'respond-async' },
      body: form,
    })

    expect((await readJson<EditJob>(res)).id).toBe(first.id)
  })

  it('rejects the same key with another body', async () => {
    const { key } = await worker.createKey()
    const headers = { 'Idempotency-Key': 'order-3' }
    const first = await readJson<EditJob>(await postEdit(key, { headers }))

    const res = await postEdit(key, { headers, body: { prompt: 'a knight' } })

    expect(res.status).toBe(409)
    expect(await readProblem(res)).toMatchObject({
      type: problemType('conflict'),
      detail:
        'This Idempotency-Key was already used with a different request body. Use a new key for a ' +
        'new request, or resend the original body unchanged.',
      edit_id: first.id,
    })
  })

  it('rejects an over-long key', async () => {
    const { key } = await worker.createKey()

    const res = await postEdit(key, { headers: { 'Idempotency-Key': 'k'.repeat(256) } })

    expect(res.status).toBe(400)
    expect((await readProblem(res)).detail).toBe(
      'Idempotency-Key must be 1 to 255 visible ASCII characters; a UUID works.'
    )
  })
})

describe('key scoping', () => {
  it('hides another key’s edit', async () => {
    const owner = await worker.createKey()
    const other = await worker.createKey()
    const edit = await readJson<EditJob>(await postEdit(owner.key))

    const res = await worker.request(`/v1/edits/${edit.id}`, { headers: bearer(other.key) })

    expect(res.status).toBe(404)
    expect((await readProblem(res)).detail).toBe(`No edit ${edit.id} exists for this API key.`)
  })

  it('rejects a revoked key', async () => {
    const { key, record } = await worker.createKey()
    await revokeApiKey(worker.db, record.id)

    const res = await worker.request('/v1/usage', { headers: bearer(key) })

    expect(res.status).toBe(401)
    await res.body?.cancel()
  })

  it('never logs an API key', async () => {
    const { key } = await worker.createKey()
    await (await postEdit(key)).body?.cancel()
    const secretPart = key.split('_')[2] ?? key

    expect(worker.logs.length).toBeGreaterThan(0)
    expect(worker.logs.some((line) => line.includes(secretPart))).toBe(false)
  })
})
