/**
 * Typed client of the Semani HTTP API. It uses `fetch` and web-standard types only, so it runs
 * in browsers, on Workers and on Node.
 *
 * Every response body is parsed with the API's own zod schemas. Error responses throw
 * `SemaniApiError` with the problem body. Signed blob URLs (upload and download) are fetched
 * without the API key, since they may point at the storage host rather than the API.
 */
import type { z } from 'zod'

import { sniffImageFormat } from '../image-sniff.ts'
import { PROBLEMS, problemType, type ProblemBody } from '../problems.ts'
import {
  EditJobSchema,
  IMAGE_MEDIA_TYPES,
  ProblemSchema,
  TERMINAL_EDIT_STATUSES,
  UploadResponseSchema,
  UsageSchema,
  type EditJob,
  type UploadRequest,
  type UploadResponse,
  type Usage,
} from '../schemas/api.ts'
import { buildEditRequest, type CreateEditInput } from './edit-input.ts'
import { SemaniApiError, SemaniTimeoutError } from './errors.ts'

/** How long `waitForEdit` polls when the caller sets no timeout. */
export const DEFAULT_WAIT_TIMEOUT_MS = 10 * 60_000

/** Time between polls of `waitForEdit`, the `Retry-After` of the API's 202 responses. */
export const DEFAULT_POLL_INTERVAL_MS = 1000

export interface SemaniClientOptions {
  /** Origin of the API, optionally with a path prefix: `https://api.semani.dev`. */
  readonly baseUrl: string
  /** An API key `smn_…`, sent as `Authorization: Bearer`. */
  readonly apiKey: string
  /** The fetch to use; the global one when absent. */
  readonly fetch?: typeof fetch
}

/** Options of a single call. */
export interface CallOptions {
  readonly signal?: AbortSignal
}

export interface WaitOptions extends CallOptions {
  /** Maximum time to poll, in milliseconds (default DEFAULT_WAIT_TIMEOUT_MS). */
  readonly timeoutMs?: number
  /** Time between polls, in milliseconds (default DEFAULT_POLL_INTERVAL_MS). */
  readonly intervalMs?: number
  /** Called with the edit after every poll. */
  readonly onUpdate?: (edit: EditJob) => void
}

export interface SemaniClient {
  /**
   * Creates an edit. Returns the finished edit when it succeeds within `waitS`, else the queued
   * or running edit to pass to `waitForEdit`.
   *
   * @throws SemaniApiError for a rejected request, and for an edit that failed within the wait.
   */
  createEdit(input: CreateEditInput, options?: CallOptions): Promise<EditJob>
  /** Reads an edit, whatever its status. */
  getEdit(id: string, options?: CallOptions): Promise<EditJob>
  /**
   * Polls an edit until it succeeds.
   *
   * @throws SemaniApiError with the edit's problem when it failed or was canceled,
   *   SemaniTimeoutError when `timeoutMs` passes first, and the signal's reason on abort.
   */
  waitForEdit(id: string, options?: WaitOptions): Promise<EditJob>
  /** Reads the credits, edit counts and rate limits of the key. */
  getUsage(options?: CallOptions): Promise<Usage>
  /** Creates a signed PUT URL for one image; send its id as the image `{ uploadId }`. */
  createUpload(
    input: { contentType: UploadRequest['content_type']; sizeBytes?: number },
    options?: CallOptions
  ): Promise<UploadResponse>
  /**
   * Uploads image bytes through `createUpload` and returns the upload id. The media type comes
   * from the bytes.
   */
  uploadImage(image: Blob | Uint8Array, options?: CallOptions): Promise<string>
  /** Downloads a signed result or mask URL. */
  download(url: string, options?: CallOptions): Promise<Uint8Array>
}

/** Creates a client for one API key. */
export function createSemaniClient(options: SemaniClientOptions): SemaniClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '')
  // Called through a closure: Workers reject a `fetch` detached from its global.
  const fetchImpl = options.fetch ?? ((input, init) => fetch(input, init))
  const authorization = `Bearer ${options.apiKey}`

  async function callApi<T>(
    request: { method: string; path: string; body?: BodyInit; headers?: Record<string, string> },
    schema: z.ZodType<T>,
    signal: AbortSignal | undefined
  ): Promise<T> {
    const response = await fetchImpl(baseUrl + request.path, {
      method: request.method,
      headers: { Accept: 'application/json', ...request.headers, Authorization: authorization },
      body: request.body,
      signal,
    }).catch((error: unknown) => {
      throw describeNetworkError(error, `${request.method} ${baseUrl}${request.path}`, signal)
    })
    if (!response.ok) throw await readApiError(response, `${request.method} ${request.path}`)
    return parseBody(schema, await response.json(), `${request.method} ${request.path}`)
  }

  const client: SemaniClient = {
    async createEdit(input, callOptions = {}) {
      const { body, headers } = await buildEditRequest(input)
      return callApi(
        { method: 'POST', path: '/v1/edits', body, headers },
        EditJobSchema,
        callOptions.signal
      )
    },

    getEdit(id, callOptions = {}) {
      const path = `/v1/edits/${encodeURIComponent(id)}`
      return callApi({ method: 'GET', path }, EditJobSchema, callOptions.signal)
    },

    waitForEdit: (id, waitOptions = {}) => pollEdit(client, id, waitOptions),

    getUsage(callOptions = {}) {
      return callApi({ method: 'GET', path: '/v1/usage' }, UsageSchema, callOptions.signal)
    },

    createUpload(input, callOptions = {}) {
      const request: UploadRequest = {
        content_type: input.contentType,
        ...(input.sizeBytes !== undefined ? { size_bytes: input.sizeBytes } : {}),
      }
      return callApi(
        {
          method: 'POST',
          path: '/v1/uploads',
          body: JSON.stringify(request),
          headers: { 'Content-Type': 'application/json' },
        },
        UploadResponseSchema,
        callOptions.signal
      )
    },

    async uploadImage(image, callOptions = {}) {
      const bytes = image instanceof Uint8Array ? image : new Uint8Array(await image.arrayBuffer())
      const format = sniffImageFormat(bytes)
      if (!format) throw new TypeError('The image is not a JPEG, PNG or WebP file.')

      const upload = await client.createUpload(
        { contentType: IMAGE_MEDIA_TYPES[format], sizeBytes: bytes.byteLength },
        callOptions
      )
      const response = await fetchImpl(upload.upload_url, {
        method: upload.method,
        headers: upload.headers,
        body: new Blob([new Uint8Array(bytes)]),
        signal: callOptions.signal,
      })
      if (!response.ok) throw await readApiError(response, `PUT upload ${upload.id}`)
      await response.body?.cancel()
      return upload.id
    },

    async download(url, callOptions = {}) {
      const response = await fetchImpl(url, { signal: callOptions.signal })
      if (!response.ok) throw await readApiError(response, 'GET signed URL')
      return new Uint8Array(await response.arrayBuffer())
    },
  }
  return client
}

async function pollEdit(client: SemaniClient, id: string, options: WaitOptions): Promise<EditJob> {
  const {
    timeoutMs = DEFAULT_WAIT_TIMEOUT_MS,
    intervalMs = DEFAULT_POLL_INTERVAL_MS,
    signal,
    onUpdate,
  } = options
  const deadlineMs = Date.now() + timeoutMs

  for (;;) {
    const edit = await client.getEdit(id, { signal })
    onUpdate?.(edit)
    if (edit.status === 'succeeded') return edit
    if (TERMINAL_EDIT_STATUSES.includes(edit.status)) throw problemOfEdit(edit)

    const remainingMs = deadlineMs - Date.now()
    if (remainingMs <= 0) throw new SemaniTimeoutError(edit, timeoutMs)
    await sleep(Math.min(intervalMs, remainingMs), signal)
  }
}

// A failed or canceled edit carries its problem; one without gets the generic problem of its status.
function problemOfEdit(edit: EditJob): SemaniApiError {
  const slug = edit.status === 'canceled' ? 'canceled' : 'internal'
  const problem: ProblemBody = edit.error ?? {
    type: problemType(slug),
    title: PROBLEMS[slug].title,
    status: PROBLEMS[slug].status,
    detail: `Edit ${edit.id} ${edit.status} without a problem description.`,
  }
  return new SemaniApiError({ ...problem, edit_id: edit.id })
}

/** Turns an error response into `SemaniApiError`; `what` names the call in a fallback detail. */
async function readApiError(response: Response, what: string): Promise<SemaniApiError> {
  const text = await response.text()
  const retryAfterS = readRetryAfter(response.headers.get('Retry-After'))
  const requestId = response.headers.get('Request-Id') ?? undefined

  const parsed = ProblemSchema.safeParse(parseJson(text))
  if (parsed.success) {
    const problem: ProblemBody = { ...parsed.data, requestId: parsed.data.requestId ?? requestId }
    return new SemaniApiError(problem, { retryAfterS })
  }
  const problem: ProblemBody = {
    type: 'about:blank',
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    detail: `${what} failed with status ${response.status}: ${text.slice(0, 200) || 'no body'}`,
    ...(requestId ? { requestId } : {}),
  }
  return new SemaniApiError(problem, { retryAfterS })
}

// fetch reports an unreachable host as TypeError("fetch failed") with the reason in `cause`.
function describeNetworkError(error: unknown, what: string, signal: AbortSignal | undefined) {
  if (signal?.aborted || !(error instanceof Error)) return error
  const cause = error.cause instanceof Error ? error.cause : undefined
  const code = (cause as { code?: unknown } | undefined)?.code
  const reason =
    typeof code === 'string' ? `${code}: ${cause?.message}` : (cause?.message ?? error.message)
  return new Error(`${what} failed: ${reason}`, { cause: error })
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body)
  if (parsed.success) return parsed.data

  const issues = parsed.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
  throw new Error(`The response of ${what} does not match the API schema: ${issues.join('; ')}`, {
    cause: parsed.error,
  })
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    // Not JSON: the caller builds a problem from the status and the text instead.
    return undefined
  }
}

// Retry-After is delay-seconds or an HTTP date (RFC 9110 section 10.2.3).
function readRetryAfter(header: string | null): number | undefined {
  if (header === null) return undefined
  if (/^\d+$/.test(header.trim())) return Number(header)
  const dateMs = Date.parse(header)
  return Number.isNaN(dateMs) ? undefined : Math.max(0, (dateMs - Date.now()) / 1000)
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
