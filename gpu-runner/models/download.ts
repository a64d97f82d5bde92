/**
 * Resumable download of one file into `<dest>.part`, verified before an atomic rename.
 *
 * Resume: when a `.part` file exists, the request reads the rest with `Range: bytes=N-`;
 * a 206 answer starting at N is appended, a 200 answer restarts the file. The digest covers
 * the bytes already on disk plus the new ones, so a resumed file is verified as a whole.
 *
 * Failure policy for the `.part` file: an interrupted transfer keeps it, so the next pull
 * resumes; a size or sha256 mismatch deletes it, because resuming a corrupt file can only
 * reproduce the mismatch.
 */
import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { dirname } from 'node:path'

/** Failure reason of a download; `unreachable` and `interrupted` are worth retrying later. */
export type DownloadFailure = 'unreachable' | 'interrupted' | 'http-status' | 'size' | 'checksum'

/** A failed download of one file, with the reason as a stable code. */
export class DownloadError extends Error {
  constructor(
    readonly reason: DownloadFailure,
    message: string,
    options: { cause?: unknown } = {}
  ) {
    super(message, { cause: options.cause })
    this.name = 'DownloadError'
  }
}

/** Progress of one download, reported at most once per `progressIntervalMs`. */
export interface DownloadProgress {
  readonly receivedBytes: number
  readonly totalBytes?: number
  readonly resumedFromBytes: number
}

export interface DownloadRequest {
  readonly url: string
  readonly dest: string
  /** Digest and size the file must have; absent for a file pinned at first pull. */
  readonly expected?: { readonly sha256: string; readonly sizeBytes: number }
  /** Maximum wait for the response headers in milliseconds, connection included. */
  readonly headersTimeoutMs: number
  /** Maximum wait between two chunks of the body in milliseconds. */
  readonly stallTimeoutMs: number
  readonly progressIntervalMs: number
  readonly signal?: AbortSignal
  readonly onProgress?: (progress: DownloadProgress) => void
}

/** A completed download. */
export interface DownloadResult {
  readonly sha256: string
  readonly sizeBytes: number
  readonly resumedFromBytes: number
}

const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
])

/**
 * Downloads `request.url` into `request.dest`, resuming a previous `.part` file.
 *
 * @throws DownloadError with the failure reason; AbortError when `signal` aborts.
 */
export async function downloadFile(request: DownloadRequest): Promise<DownloadResult> {
  // 1. Ask for the rest of a partial file, if any
  const part = `${request.dest}.part`
  await mkdir(dirname(request.dest), { recursive: true })
  let partBytes = await sizeOf(part)
  let response = await requestFile(request, partBytes)

  // 2. Continue the partial file only when the response starts where it ends
  if (response.status === 416) {
    // The range starts at or past the end: the partial file may already be complete.
    await response.body?.cancel()
    return finish(request, part, await hashFile(part), partBytes, partBytes)
  }
  if (bodyOffset(response) !== (response.status === 206 ? partBytes : 0)) {
    await response.body?.cancel()
    await rm(part, { force: true })
    partBytes = 0
    response = await requestFile(request, partBytes)
  }
  const resumeFrom = response.status === 206 ? partBytes : 0
  const hash = resumeFrom > 0 ? await hashFile(part) : createHash('sha256')

  // 3. Stream the body to disk while hashing it
  const totalBytes = contentTotal(response, resumeFrom)
  const written = await writeBody(request, response, part, {
    hash,
    resumeFrom,
    ...(totalBytes === undefined ? {} : { totalBytes }),
  })

  // 4. Verify, then move into place
  return finish(request, part, hash, resumeFrom + written, resumeFrom)
}

async function requestFile(request: DownloadRequest, partBytes: number): Promise<Response> {
  const controller = new AbortController()
  const abort = (): void => controller.abort(request.signal?.reason)
  request.signal?.addEventListener('abort', abort, { once: true })
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort()
  }, request.headersTimeoutMs)

  try {
    const headers: Record<string, string> = partBytes > 0 ? { range: `bytes=${partBytes}-` } : {}
    const response = await fetch(request.url, { headers, signal: controller.signal })
    if (response.ok || response.status === 416) return response

    await response.body?.cancel()
    throw new DownloadError(
      'http-status',
      `GET ${request.url} responded with ${response.status} ${response.statusText}`.trim()
    )
  } catch (error) {
    if (error instanceof DownloadError) throw error
    request.signal?.throwIfAborted()
    const host = new URL(request.url).host
    const code = networkErrorCode(error)
    const message = timedOut
      ? `${host} did not answer within ${request.headersTimeoutMs} ms`
      : `${host} could not be reached${code ? ` (${code})` : ''}`
    throw new DownloadError('unreachable', message, { cause: error })
  } finally {
    clearTimeout(timer)
    request.signal?.removeEventListener('abort', abort)
  }
}

// fetch wraps the socket error in `cause`: show its code when it is a network code, else
// its message (fetch refuses some ports itself with "bad port").
function networkErrorCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? error.cause : undefined
  if (!(cause instanceof Error)) return undefined
  const code = (cause as { code?: unknown }).code
  return typeof code === 'string' && NETWORK_ERROR_CODES.has(code) ? code : cause.message
}

// Offset of the body's first byte in the file: from Content-Range for a 206, else 0.
function bodyOffset(response: Response): number {
  if (response.status !== 206) return 0
  const range = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')
  return range === null ? -1 : Number(range[1])
}

function contentTotal(response: Response, resumeFrom: number): number | undefined {
  const range = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '')
  if (range !== null) return Number(range[1])
  const length = response.headers.get('content-length')
  return length === null ? undefined : resumeFrom + Number(length)
}

async function writeBody(
  request: DownloadRequest,
  response: Response,
  part: string,
  state: { hash: Hash; resumeFrom: number; totalBytes?: number }
): Promise<number> {
  const handle = await open(part, state.resumeFrom > 0 ? 'a' : 'w')
  let written = 0
  let lastReport = 0
  try {
    for await (const chunk of readWithStallTimeout(response, request.stallTimeoutMs)) {
      await handle.write(chunk)
      state.hash.update(chunk)
      written += chunk.length
      if (performance.now() - lastReport >= request.progressIntervalMs) {
        lastReport = performance.now()
        request.onProgress?.({
          receivedBytes: state.resumeFrom + written,
          resumedFromBytes: state.resumeFrom,
          ...(state.totalBytes === undefined ? {} : { totalBytes: state.totalBytes }),
        })
      }
    }
  } catch (error) {
    request.signal?.throwIfAborted()
    throw new DownloadError(
      'interrupted',
      `Download of ${request.url} stopped after ${state.resumeFrom + written} bytes; ` +
        'run the pull again to resume it.',
      { cause: error }
    )
  } finally {
    await handle.close()
  }
  return written
}

async function* readWithStallTimeout(
  response: Response,
  stallTimeoutMs: number
): AsyncGenerator<Uint8Array> {
  const reader = response.body?.getReader()
  if (reader === undefined) return

  while (true) {
    let timer: NodeJS.Timeout | undefined
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no data for ${stallTimeoutMs} ms`)),
        stallTimeoutMs
      )
    })
    try {
      const { done, value } = await Promise.race([reader.read(), stalled])
      if (done) return
      yield value
    } catch (error) {
      await reader.cancel().catch(() => undefined)
      throw error
    } finally {
      clearTimeout(timer)
    }
  }
}

async function finish(
  request: DownloadRequest,
  part: string,
  hash: Hash,
  sizeBytes: number,
  resumedFromBytes: number
): Promise<DownloadResult> {
  const sha256 = hash.digest('hex')
  const expected = request.expected
  if (expected !== undefined && sizeBytes !== expected.sizeBytes) {
    await rm(part, { force: true })
    throw new DownloadError(
      'size',
      `${request.dest}: downloaded ${sizeBytes} bytes, expected ${expected.sizeBytes}; ` +
        'the partial file was deleted.'
    )
  }
  if (expected !== undefined && sha256 !== expected.sha256) {
    await rm(part, { force: true })
    throw new DownloadError(
      'checksum',
      `${request.dest}: sha256 is ${sha256}, expected ${expected.sha256}; ` +
        'the partial file was deleted.'
    )
  }

  await rename(part, request.dest)
  return { sha256, sizeBytes, resumedFromBytes }
}

/** Hashes a file with sha256, streaming it. */
export async function hashFile(path: string): Promise<Hash> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch {
    // A missing partial file means the download starts from the first byte.
    return 0
  }
}
