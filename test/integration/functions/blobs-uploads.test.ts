// Worker-served signed blob URLs and the direct-upload flow.
import { readFile } from 'node:fs/promises'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { workerUrlSigner } from '../../../functions/storage/signed-urls.ts'
import { problemType } from '../../../shared/problems.ts'
import type { EditJob, UploadResponse } from '../../../shared/schemas/api.ts'
import { closedPortUrl, pollEdit } from '../../helpers/worker-fixtures.ts'
import {
  bearer,
  readJson,
  readProblem,
  startTestWorker,
  type TestWorker,
} from '../../helpers/worker.ts'

// The local-stack secret from wrangler.toml, which the test worker keeps.
const SIGNING_SECRET = 'local-stack-blob-signing-secret-not-for-production'
const RESULT_KEY = 'edits/edt_AAAAAAAAAAAAAAAAAAAAAAAA/1/image.png'

let worker: TestWorker
let key: string
let tinyJpeg: Buffer

beforeAll(async () => {
  // Nothing listens at the runner URL: these tests never reach a prediction.
  worker = await startTestWorker({
    vars: { RUNNER_URL: await closedPortUrl(), RUNNER_MAX_ATTEMPTS: '1' },
  })
  key = (await worker.createKey()).key
  tinyJpeg = await readFile('test/fixtures/photos/navy-officer-portrait-tiny.jpg')
})

afterAll(async () => {
  await worker.dispose()
})

function signer(nowMs = Date.now()) {
  return workerUrlSigner({
    baseUrl: worker.url,
    secret: SIGNING_SECRET,
    ttlS: 60,
    nowMs: () => nowMs,
  })
}

describe('signed blob URLs', () => {
  it('stores a PUT and serves it to GET', async () => {
    const put = await signer().sign({ key: RESULT_KEY, method: 'PUT' })
    const get = await signer().sign({ key: RESULT_KEY, method: 'GET' })

    const stored = await fetch(put.url, {
      method: 'PUT',
      headers: { 'Content-Type': 'image/png' },
      body: 'png!',
    })
    const served = await fetch(get.url)

    expect(stored.status).toBe(200)
    expect(served.status).toBe(200)
    expect(served.headers.get('content-type')).toBe('image/png')
    expect(await served.text()).toBe('png!')
  })

  it('rejects a tampered signature', async () => {
    const get = await signer().sign({ key: RESULT_KEY, method: 'GET' })
    const url = new URL(get.url)
    url.searchParams.set('sig', 'A' + (url.searchParams.get('sig') ?? '').slice(1))

    const res = await fetch(url)

    expect(res.status).toBe(403)
    expect(await readProblem(res)).toMatchObject({
      type: problemType('forbidden'),
      detail:
        'This signed URL is not valid for this object and method. Use the URL exactly as the API returned it.',
    })
  })

  it('rejects an expired URL', async () => {
    const get = await signer(Date.now() - 120_000).sign({ key: RESULT_KEY, method: 'GET' })

    const res = await fetch(get.url)

    expect(res.status).toBe(403)
    expect((await readProblem(res)).detail).toBe(
      'This signed URL has expired. Request a fresh one from the API.'
    )
  })

  it('rejects a GET grant used to PUT', async () => {
    const get = await signer().sign({ key: RESULT_KEY, method: 'GET' })

    const res = await fetch(get.url, { method: 'PUT', body: 'overwrite' })

    expect(res.status).toBe(403)
    expect(await (await worker.bucket.get(RESULT_KEY))?.text()).toBe('png!')
  })

  it('rejects keys outside the key scheme', async () => {
    const get = await signer().sign({ key: 'secrets/config', method: 'GET' })

    const res = await fetch(get.url)

    expect(res.status).toBe(403)
  })

  it('answers a missing object with not-found', async () => {
    const get = await signer().sign({
      key: 'edits/edt_BBBBBBBBBBBBBBBBBBBBBBBB/1/mask.png',
      method: 'GET',
    })

    const res = await fetch(get.url)

    expect(res.status).toBe(404)
    expect((await readProblem(res)).type).toBe(problemType('not-found'))
  })
})

describe('POST /v1/uploads', () => {
  async function createUpload(): Promise<{
    id: string
    upload_url: string
    headers: Record<string, string>
  }> {
    const res = await worker.request('/v1/uploads', {
      method: 'POST',
      headers: { ...bearer(key), 'Content-Type': 'application/json' },
      body: JSON.stringify({ content_type: 'image/jpeg' }),
    })
    expect(res.status).toBe(201)
    return readJson<UploadResponse>(res)
  }

  it('returns a PUT URL for the upload', async () => {
    const upload = await createUpload()

    expect(upload.id).toMatch(/^upl_[A-Za-z0-9]{24}$/)
    expect(new URL(upload.upload_url).pathname).toBe(`/v1/blobs/uploads/${upload.id}`)
    expect(upload.headers).toEqual({ 'Content-Type': 'image/jpeg' })
  })

  it('feeds an edit through upload_id', async () => {
    const upload = await createUpload()
    const put = await fetch(upload.upload_url, {
      method: 'PUT',
      headers: upload.headers,
      body: new Uint8Array(tinyJpeg),
    })
    expect(put.status).toBe(200)

    const res = await worker.request('/v1/edits', {
      method: 'POST',
      headers: { ...bearer(key), 'Content-Type': 'application/json', Prefer: 'respond-async' },
      body: JSON.stringify({ upload_id: upload.id, entity: 'person', prompt: 'a robot' }),
    })

    expect(res.status).toBe(202)
    const edit = await readJson<EditJob>(res)
    expect(edit.input).toMatchObject({ format: 'jpeg', size_bytes: tinyJpeg.byteLength })
    expect(await worker.bucket.head(`inputs/sha256/${edit.input.sha256}`)).not.toBeNull()
    await pollEdit(worker, { key, editId: edit.id })
  })

  it('rejects an upload with no data yet', async () => {
    const upload = await createUpload()

    const res = await worker.request('/v1/edits', {
      method: 'POST',
      headers: { ...bearer(key), 'Content-Type': 'application/json' },
      body: JSON.stringify({ upload_id: upload.id, entity: 'person', prompt: 'a robot' }),
    })

    expect(res.status).toBe(400)
    expect((await readProblem(res)).detail).toBe(
      `Upload ${upload.id} has no data yet. PUT the image to its upload_url first, then retry.`
    )
  })

  it('hides another key’s upload', async () => {
    const upload = await createUpload()
    await fetch(upload.upload_url, {
      method: 'PUT',
      headers: upload.headers,
      body: new Uint8Array(tinyJpeg),
    })
    const other = await worker.createKey({ name: 'other' })

    const res = await worker.request('/v1/edits', {
      method: 'POST',
      headers: { ...bearer(other.key), 'Content-Type': 'application/json' },
      body: JSON.stringify({ upload_id: upload.id, entity: 'person', prompt: 'a robot' }),
    })

    expect(res.status).toBe(400)
    expect((await readProblem(res)).detail).toBe(`No upload ${upload.id} exists for this API key.`)
  })

  it('rejects an unsupported content type', async () => {
    const res = await worker.request('/v1/uploads', {
      method: 'POST',
      headers: { ...bearer(key), 'Content-Type': 'application/json' },
      body: JSON.stringify({ content_type: 'image/gif' }),
    })

    expect(res.status).toBe(400)
    expect((await readProblem(res)).errors?.[0]?.path).toBe('content_type')
  })
})
