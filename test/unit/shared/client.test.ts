// The typed API client, with its `fetch` replaced by a recorder that replies from a script. The
// requests it builds are checked against the edge's own request schemas. Runs against a real
// worker are in test/integration/cli/edit-api.test.ts.
import { describe, expect, it } from 'vitest'

import { EditFormRequestSchema } from '../../../functions/services/edit-request.ts'
import { encodeBase64 } from '../../../shared/client/base64.ts'
import { SemaniApiError, SemaniTimeoutError } from '../../../shared/client/errors.ts'
import { createSemaniClient } from '../../../shared/client/semani-client.ts'
import { problemType } from '../../../shared/problems.ts'
import { EditJsonRequestSchema, type EditJob } from '../../../shared/schemas/api.ts'
import { EditSettingsSchema } from '../../../shared/schemas/edit-settings.ts'

const BASE_URL = 'http://127.0.0.1:8787'
const API_KEY = 'smn_AAAAAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
const EDIT_ID = 'edt_abcdefghijklmnopqrstuvwx'
// A 1×1 grayscale PNG (checked with sharp: width 1, height 1, format png).
const PNG_1X1 = Uint8Array.from(
  atob(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgAB4iG8MwAAAABJRU5ErkJggg=='
  ),
  (character) => character.charCodeAt(0)
)

interface Recorded {
  readonly url: string
  readonly method: string
  readonly headers: Headers
  readonly body: BodyInit | null | undefined
}

/** A fetch that records each request and returns the next response of `replies`. */
function scriptedFetch(...replies: (() => Response)[]): { fetch: typeof fetch; calls: Recorded[] } {
  const calls: Recorded[] = []
  const fetchImpl = async (input: RequestInfo | URL, init: RequestInit = {}) => {
    calls.push({
      url: String(input),
      method: init.method ?? 'GET',
      headers: new Headers(init.headers),
      body: init.body,
    })
    const reply = replies[Math.min(calls.length, replies.length) - 1]
    if (!reply) throw new Error('The script has no reply for this request.')
    return reply()
  }
  return { fetch: fetchImpl as typeof fetch, calls }
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): () => Response {
  return () =>
    new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json', ...headers },
    })
}

function problem(slug: 'unauthorized' | 'rate-limited', status: number, detail: string) {
  return {
    type: problemType(slug),
    title: slug === 'unauthorized' ? 'Unauthorized' : 'Rate limited',
    status,
    detail,
    requestId: 'req-1',
  }
}

function makeEditJob(overrides: Partial<EditJob> = {}): EditJob {
  return {
    id: EDIT_ID,
    object: 'edit',
    status: 'succeeded',
    created_at: '2026-01-01T00:00:00.000Z',
    started_at: '2026-01-01T00:00:01.000Z',
    completed_at: '2026-01-01T00:00:09.000Z',
    edits: [{ entity: 'dog', prompt: 'a white cat' }],
    settings: EditSettingsSchema.parse({ seed: 7 }),
    input: { sha256: 'ab'.repeat(32), format: 'png', width: 1, height: 1, size_bytes: 68 },
    result: {
      image_url: `${BASE_URL}/v1/blobs/result.png?sig=1`,
      mask_url: `${BASE_URL}/v1/blobs/mask.png?sig=1`,
      format: 'png',
      width: 1,
      height: 1,
      expires_at: '2026-01-01T01:00:00.000Z',
    },
    selected: [{ bbox: [0, 0, 1, 1], area: 1, score: 0.31 }],
    candidates: [{ bbox: [0, 0, 1, 1], area: 1, score: 0.31 }],
    seed: 7,
    window: [0, 0, 1, 1],
    mask_cache: 'miss',
    timings_ms: { total: 9000 },
    model_revisions: {},
    attempts: 1,
    units: 1,
    webhook_url: null,
    error: null,
    ...overrides,
  }
}

/** Decodes a recorded multipart body into its fields, as the edge's body parser reads them. */
async function readForm(call: Recorded | undefined): Promise<Record<string, FormDataEntryValue>> {
  const contentType = call?.headers.get('content-type') ?? ''
  expect(contentType).toMatch(/^multipart\/form-data; boundary=/)
  const form = await new Response(call?.body, {
    headers: { 'Content-Type': contentType },
  }).formData()
  return Object.fromEntries(form.entries())
}

function client(fetchImpl: typeof fetch) {
  return createSemaniClient({ baseUrl: `${BASE_URL}/`, apiKey: API_KEY, fetch: fetchImpl })
}

describe('createEdit', () => {
  it('sends image bytes as multipart', async () => {
    const script = scriptedFetch(json(makeEditJob()))

    await client(script.fetch).createEdit({
      image: PNG_1X1,
      entity: 'dog',
      prompt: 'a white cat',
      steps: 2,
      keep_shape: true,
      seed: 7,
    })

    const call = script.calls[0]
    expect(call?.url).toBe(`${BASE_URL}/v1/edits`)
    expect(call?.method).toBe('POST')
    expect(call?.headers.get('authorization')).toBe(`Bearer ${API_KEY}`)
    const form = await readForm(call)
    const parsed = EditFormRequestSchema.safeParse(form)
    expect(parsed.success).toBe(true)
    expect(parsed.data).toMatchObject({ entity: 'dog', steps: 2, keep_shape: true, seed: 7 })
    const file = form.image as File
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(PNG_1X1)
  })

  it('sends several edits in order', async () => {
    const script = scriptedFetch(json(makeEditJob()))
    const edits = [
      { entity: 'dog', prompt: 'a cat' },
      { entity: 'bowl', prompt: '' },
    ]

    await client(script.fetch).createEdit({ image: new Blob([PNG_1X1]), edits })

    const form = await readForm(script.calls[0])
    expect(EditFormRequestSchema.parse(form).edits).toEqual(edits)
  })

  it('sends a URL as JSON', async () => {
    const script = scriptedFetch(json(makeEditJob()))

    await client(script.fetch).createEdit({
      image: { url: 'http://127.0.0.1:9000/dog.png' },
      entity: 'dog',
      prompt: 'a white cat',
      webhookUrl: 'http://127.0.0.1:9001/done',
    })

    const call = script.calls[0]
    expect(call?.headers.get('content-type')).toBe('application/json')
    const body = JSON.parse(String(call?.body))
    expect(body).toEqual({
      entity: 'dog',
      prompt: 'a white cat',
      image_url: 'http://127.0.0.1:9000/dog.png',
      webhook_url: 'http://127.0.0.1:9001/done',
    })
    expect(EditJsonRequestSchema.safeParse(body).success).toBe(true)
  })

  it('sends an upload id as JSON', async () => {
    const script = scriptedFetch(json(makeEditJob()))
    const uploadId = 'upl_abcdefghijklmnopqrstuv'

    await client(script.fetch).createEdit({ image: { uploadId }, entity: 'dog', prompt: '' })

    expect(JSON.parse(String(script.calls[0]?.body))).toMatchObject({ upload_id: uploadId })
  })

  it.each([
    [{}, null],
    [{ waitS: 0 }, 'respond-async'],
    [{ waitS: 30 }, 'wait=30'],
  ])('sets Prefer for %j', async (wait, expected) => {
    const script = scriptedFetch(json(makeEditJob({ status: 'queued', result: null }), 202))

    const job = await client(script.fetch).createEdit({
      image: PNG_1X1,
      entity: 'dog',
      prompt: 'a cat',
      ...wait,
    })

    expect(job.status).toBe('queued')
    expect(script.calls[0]?.headers.get('prefer')).toBe(expected)
  })

  it('sends the idempotency key', async () => {
    const script = scriptedFetch(json(makeEditJob()))

    await client(script.fetch).createEdit({
      image: PNG_1X1,
      entity: 'dog',
      prompt: 'a cat',
      idempotencyKey: 'retry-42',
    })

    expect(script.calls[0]?.headers.get('idempotency-key')).toBe('retry-42')
  })
})

describe('error responses', () => {
  it('throws the problem body', async () => {
    const body = problem('unauthorized', 401, 'The API key is not valid or has been revoked.')
    const script = scriptedFetch(() => Response.json(body, { status: 401 }))

    const error = await client(script.fetch)
      .getUsage()
      .catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(SemaniApiError)
    const apiError = error as SemaniApiError
    expect(apiError.status).toBe(401)
    expect(apiError.type).toBe(problemType('unauthorized'))
    expect(apiError.requestId).toBe('req-1')
    expect(apiError.message).toBe('Unauthorized: The API key is not valid or has been revoked.')
  })

  it('reads Retry-After', async () => {
    const body = problem('rate-limited', 429, 'The requests limit is used up.')
    const script = scriptedFetch(json(body, 429, { 'Retry-After': '17' }))

    const error = (await client(script.fetch)
      .getEdit(EDIT_ID)
      .catch((caught: unknown) => caught)) as SemaniApiError

    expect(error.retryAfterS).toBe(17)
  })

  it('wraps a body that is not a problem', async () => {
    const script = scriptedFetch(
      () =>
        new Response('<html>Bad gateway</html>', {
          status: 502,
          statusText: 'Bad Gateway',
          headers: { 'Content-Type': 'text/html', 'Request-Id': 'req-2' },
        })
    )

    const error = (await client(script.fetch)
      .getUsage()
      .catch((caught: unknown) => caught)) as SemaniApiError

    expect(error).toBeInstanceOf(SemaniApiError)
    expect(error.problem).toEqual({
      type: 'about:blank',
      title: 'Bad Gateway',
      status: 502,
      detail: 'GET /v1/usage failed with status 502: <html>Bad gateway</html>',
      requestId: 'req-2',
    })
  })

  it('names the unreachable endpoint', async () => {
    // Node's fetch fails this way when nothing listens on the port.
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8787'), {
      code: 'ECONNREFUSED',
    })
    const script = scriptedFetch(() => {
      throw new TypeError('fetch failed', { cause: refused })
    })

    await expect(client(script.fetch).getUsage()).rejects.toThrow(
      `GET ${BASE_URL}/v1/usage failed: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:8787`
    )
  })

  it('rejects a body outside the schema', async () => {
    const script = scriptedFetch(json({ id: EDIT_ID, status: 'done' }))

    await expect(client(script.fetch).getEdit(EDIT_ID)).rejects.toThrow(
      /^The response of GET \/v1\/edits\/edt_\w+ does not match the API schema: /
    )
  })
})

describe('waitForEdit', () => {
  it('polls until the edit succeeds', async () => {
    const running = makeEditJob({ status: 'running', result: null })
    const script = scriptedFetch(
      json(makeEditJob({ status: 'queued', result: null })),
      json(running),
      json(makeEditJob())
    )
    const statuses: string[] = []

    const job = await client(script.fetch).waitForEdit(EDIT_ID, {
      intervalMs: 1,
      onUpdate: (edit) => statuses.push(edit.status),
    })

    expect(job.status).toBe('succeeded')
    expect(statuses).toEqual(['queued', 'running', 'succeeded'])
    expect(script.calls.map((call) => call.url)).toEqual(
      Array(3).fill(`${BASE_URL}/v1/edits/${EDIT_ID}`)
    )
  })

  it('throws the problem of a failed edit', async () => {
    const failure = {
      type: problemType('entity-not-found'),
      title: 'Entity not found',
      status: 422,
      detail: 'No entity matches "unicorn".',
    }
    const script = scriptedFetch(
      json(makeEditJob({ status: 'failed', result: null, error: failure }))
    )

    const error = (await client(script.fetch)
      .waitForEdit(EDIT_ID)
      .catch((caught: unknown) => caught)) as SemaniApiError

    expect(error).toBeInstanceOf(SemaniApiError)
    expect(error.problem).toEqual({ ...failure, edit_id: EDIT_ID })
  })

  it('times out with the last state', async () => {
    const script = scriptedFetch(json(makeEditJob({ status: 'running', result: null })))

    const error = await client(script.fetch)
      .waitForEdit(EDIT_ID, { timeoutMs: 5, intervalMs: 1 })
      .catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(SemaniTimeoutError)
    expect((error as SemaniTimeoutError).edit.status).toBe('running')
    expect(script.calls.length).toBeGreaterThan(1)
  })

  it('stops when aborted', async () => {
    const script = scriptedFetch(json(makeEditJob({ status: 'running', result: null })))
    const controller = new AbortController()
    const reason = new Error('stopped by the caller')

    const waiting = client(script.fetch).waitForEdit(EDIT_ID, {
      intervalMs: 60_000,
      signal: controller.signal,
      onUpdate: () => controller.abort(reason),
    })

    await expect(waiting).rejects.toBe(reason)
  })
})

describe('uploads and downloads', () => {
  it('uploads image bytes without the API key', async () => {
    const uploadUrl = `${BASE_URL}/v1/blobs/uploads/upl_abcdefghijklmnopqrstuv?sig=1`
    const script = scriptedFetch(
      json(
        {
          id: 'upl_abcdefghijklmnopqrstuv',
          object: 'upload',
          upload_url: uploadUrl,
          method: 'PUT',
          headers: { 'Content-Type': 'image/png' },
          expires_at: '2026-01-01T01:00:00.000Z',
        },
        201
      ),
      () => new Response(null, { status: 200 })
    )

    const uploadId = await client(script.fetch).uploadImage(PNG_1X1)

    expect(uploadId).toBe('upl_abcdefghijklmnopqrstuv')
    const [create, put] = script.calls
    expect(JSON.parse(String(create?.body))).toEqual({
      content_type: 'image/png',
      size_bytes: PNG_1X1.byteLength,
    })
    expect(put?.url).toBe(uploadUrl)
    expect(put?.method).toBe('PUT')
    expect(put?.headers.get('content-type')).toBe('image/png')
    expect(put?.headers.has('authorization')).toBe(false)
  })

  it('rejects bytes that are not an image', async () => {
    const script = scriptedFetch()

    await expect(
      client(script.fetch).uploadImage(new TextEncoder().encode('hello'))
    ).rejects.toThrow('not a JPEG, PNG or WebP file')
    expect(script.calls).toEqual([])
  })

  it('downloads without the API key', async () => {
    const script = scriptedFetch(() => new Response(PNG_1X1))

    const bytes = await client(script.fetch).download(`${BASE_URL}/v1/blobs/result.png?sig=1`)

    expect(bytes).toEqual(PNG_1X1)
    expect(script.calls[0]?.headers.has('authorization')).toBe(false)
  })
})

describe('encodeBase64', () => {
  it('matches Node for every tail length', () => {
    const bytes = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 151 + 7) & 255)

    // Node's Buffer is the reference encoder (RFC 4648 base64 with padding).
    for (const length of [0, 1, 2, 3, 4, 5, 100_001, 100_002, 100_003]) {
      const slice = bytes.subarray(0, length)
      expect(encodeBase64(slice), `length ${length}`).toBe(Buffer.from(slice).toString('base64'))
    }
  })
})
