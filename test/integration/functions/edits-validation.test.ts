// POST /v1/edits rejections that happen before any runner is involved: authentication, body
// validation and image checks. Each failure must leave storage and the edits table untouched.
import { readFile } from 'node:fs/promises'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { problemType } from '../../../shared/problems.ts'
import { bearer, readProblem, startTestWorker, type TestWorker } from '../../helpers/worker.ts'

let worker: TestWorker
let key: string
let tinyJpeg: Buffer

beforeAll(async () => {
  worker = await startTestWorker()
  key = (await worker.createKey()).key
  tinyJpeg = await readFile('test/fixtures/photos/navy-officer-portrait-tiny.jpg')
})

afterAll(async () => {
  await worker.dispose()
})

function makeEditRequest(overrides: Record<string, unknown> = {}) {
  return {
    image_base64: tinyJpeg.toString('base64'),
    entity: 'person',
    prompt: 'a robot',
    ...overrides,
  }
}

function postJson(body: unknown, headers: Record<string, string> = bearer(key)) {
  return worker.request('/v1/edits', {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/json', Prefer: 'respond-async' },
    body: JSON.stringify(body),
  })
}

async function countEdits(): Promise<number> {
  const row = await worker.db.prepare('SELECT COUNT(*) AS n FROM edits').first<{ n: number }>()
  return row?.n ?? -1
}

// A PNG signature and an IHDR chunk that declares `width` x `height`. The CRC is left zero,
// because the header check reads the size without validating chunks.
function pngHeader(width: number, height: number): Uint8Array {
  const bytes = new Uint8Array(33)
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52])
  const view = new DataView(bytes.buffer)
  view.setUint32(16, width)
  view.setUint32(20, height)
  bytes.set([8, 2, 0, 0, 0], 24)
  return bytes
}

describe('POST /v1/edits authentication', () => {
  it('rejects a request without a key', async () => {
    const res = await postJson(makeEditRequest(), {})

    expect(res.status).toBe(401)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.headers.get('www-authenticate')).toBe('Bearer')
    const body = await readProblem(res)
    expect(body).toMatchObject({
      type: problemType('unauthorized'),
      detail:
        'Send your API key as "Authorization: Bearer <key>". Create one with `semani keys create`.',
      instance: '/v1/edits',
    })
  })

  it('rejects a wrong key', async () => {
    const res = await postJson(
      makeEditRequest(),
      bearer(key.slice(0, -1) + (key.endsWith('a') ? 'b' : 'a'))
    )

    expect(res.status).toBe(401)
    expect((await readProblem(res)).detail).toBe(
      'The API key is not valid or has been revoked. Create a new one with `semani keys create`.'
    )
  })

  it('echoes the request id', async () => {
    const res = await postJson(makeEditRequest(), {})

    const body = await readProblem(res)
    expect(res.headers.get('request-id')).toMatch(/^[0-9a-f-]{36}$/)
    expect(body.requestId).toBe(res.headers.get('request-id'))
  })
})

describe('POST /v1/edits validation', () => {
  it('names unknown fields', async () => {
    const res = await postJson(makeEditRequest({ colour: 'red', sizes: 2 }))

    expect(res.status).toBe(400)
    const body = await readProblem(res)
    expect(body.type).toBe(problemType('invalid-request'))
    expect(body.errors).toEqual([
      { path: '', code: 'unrecognized_keys', message: 'Unrecognized keys: "colour", "sizes"' },
    ])
  })

  it('reports a setting out of range', async () => {
    const res = await postJson(makeEditRequest({ steps: 0 }))

    const body = await readProblem(res)
    expect(body.errors).toEqual([
      { path: 'steps', code: 'too_small', message: 'Too small: expected number to be >=1' },
    ])
  })

  it('requires an image source', async () => {
    const res = await postJson({ entity: 'dog', prompt: 'a cat' })

    const body = await readProblem(res)
    expect(body.detail).toBe(
      'The request is invalid. image_base64: Give the image as one of image_base64, image_url or upload_id.'
    )
  })

  it('rejects malformed JSON', async () => {
    const res = await worker.request('/v1/edits', {
      method: 'POST',
      headers: { ...bearer(key), 'Content-Type': 'application/json' },
      body: '{"entity": ',
    })

    expect(res.status).toBe(400)
    expect((await readProblem(res)).detail).toBe('Malformed JSON in request body')
  })

  it('rejects other content types', async () => {
    const res = await worker.request('/v1/edits', {
      method: 'POST',
      headers: { ...bearer(key), 'Content-Type': 'text/plain' },
      body: 'dog',
    })

    expect(res.status).toBe(400)
    expect((await readProblem(res)).detail).toBe(
      'Send the edit as application/json or multipart/form-data (Content-Type header).'
    )
  })

  it('writes nothing for invalid requests', async () => {
    await (await postJson(makeEditRequest({ steps: -1 }))).body?.cancel()

    expect(await countEdits()).toBe(0)
    expect((await worker.bucket.list()).objects).toEqual([])
  })
})

describe('POST /v1/edits image checks', () => {
  it('rejects a GIF by its bytes', async () => {
    const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1')

    const res = await postJson(makeEditRequest({ image_base64: gif.toString('base64') }))

    expect(res.status).toBe(415)
    expect(await readProblem(res)).toMatchObject({
      type: problemType('unsupported-image'),
      detail: 'GIF images are not supported. Send a JPEG, PNG or WebP image.',
    })
  })

  it('rejects a huge PNG from its header', async () => {
    const header = Buffer.from(pngHeader(100_000, 100_000))

    const res = await postJson(makeEditRequest({ image_base64: header.toString('base64') }))

    expect(res.status).toBe(413)
    expect(await readProblem(res)).toMatchObject({
      type: problemType('image-too-large'),
      detail:
        'The image is 100000x100000 (10000000000 pixels), over the limit of 40000000 pixels. ' +
        'Scale it down and try again.',
    })
  })

  it('rejects invalid base64', async () => {
    const res = await postJson(makeEditRequest({ image_base64: '***' }))

    expect(res.status).toBe(400)
    expect((await readProblem(res)).detail).toBe(
      'image_base64 is not valid base64. Send the file bytes base64-encoded, or as a data URI.'
    )
  })

  it('stores nothing for rejected images', async () => {
    const header = Buffer.from(pngHeader(100_000, 100_000))
    await (
      await postJson(makeEditRequest({ image_base64: header.toString('base64') }))
    ).body?.cancel()

    expect((await worker.bucket.list()).objects).toEqual([])
    expect(await countEdits()).toBe(0)
  })

  it('rejects a body over the limit', async () => {
    const res = await worker.request('/v1/edits', {
      method: 'POST',
      headers: { ...bearer(key), 'Content-Type': 'application/json', 'Content-Length': '30000000' },
      body: 'x'.repeat(30_000_000),
    })

    expect(res.status).toBe(413)
    expect((await readProblem(res)).type).toBe(problemType('payload-too-large'))
  })
})

describe('unknown routes', () => {
  it('answers not-found as a problem', async () => {
    const res = await worker.request('/v2/nothing')

    expect(res.status).toBe(404)
    expect(await readProblem(res)).toMatchObject({
      type: problemType('not-found'),
      detail: 'No route matches GET /v2/nothing. The API reference is at /docs.',
    })
  })
})

describe('CORS', () => {
  it('answers a preflight', async () => {
    const res = await worker.request('/v1/edits', {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, content-type',
      },
    })

    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(res.headers.get('access-control-allow-headers')).toContain('Authorization')
  })
})
