/**
 * Downloads a caller's `image_url` with byte, time and redirect limits.
 *
 * Redirects are followed by hand (`redirect: 'manual'`), so each hop's URL passes the address
 * check before the worker connects to it. The body is read as a stream and abandoned as soon as
 * it passes the byte limit, whatever Content-Length claimed.
 */
import { MAX_IMAGE_BYTES } from '../../shared/limits.ts'
import { ApiProblem } from '../../shared/problems.ts'
import { checkOutboundUrl } from './address-check.ts'

/** Redirects followed before giving up. */
export const MAX_IMAGE_REDIRECTS = 3

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])

export interface ImageFetchOptions {
  readonly timeoutMs: number
  readonly allowLoopback: boolean
  readonly maxBytes?: number
  readonly maxRedirects?: number
  readonly fetcher?: typeof fetch
}

/**
 * Fetches the image at `url`.
 *
 * @throws ApiProblem `invalid-request` for a rejected URL, a failed or timed-out download, too
 *   many redirects or a non-2xx status; `image-too-large` past the byte limit.
 */
export async function fetchImage(url: string, options: ImageFetchOptions): Promise<Uint8Array> {
  const { timeoutMs, maxRedirects = MAX_IMAGE_REDIRECTS, fetcher = fetch } = options
  const signal = AbortSignal.timeout(timeoutMs)
  let current = new URL(url)

  for (let hop = 0; hop <= maxRedirects; hop++) {
    assertAllowed(current, options.allowLoopback, hop)
    const response = await fetchOnce(fetcher, current, signal, timeoutMs)

    if (!REDIRECT_STATUSES.has(response.status)) return readImageBody(response, options, signal)
    await response.body?.cancel()
    const location = response.headers.get('Location')
    if (!location)
      throw fetchProblem(`the server responded with HTTP ${response.status} without a Location`)
    current = new URL(location, current)
  }
  throw fetchProblem(`it redirected more than ${maxRedirects} times`)
}

function assertAllowed(url: URL, allowLoopback: boolean, hop: number): void {
  const rejection = checkOutboundUrl(url, { allowLoopback })
  if (!rejection) return
  throw fetchProblem(hop === 0 ? rejection : `a redirect led to a URL where ${rejection}`)
}

async function fetchOnce(
  fetcher: typeof fetch,
  url: URL,
  signal: AbortSignal,
  timeoutMs: number
): Promise<Response> {
  try {
    return await fetcher(url.toString(), {
      redirect: 'manual',
      signal,
      headers: { Accept: 'image/png, image/jpeg, image/webp' },
    })
  } catch (error) {
    if (signal.aborted) throw fetchProblem(`it timed out after ${timeoutMs / 1000} s`, error)
    throw fetchProblem('the connection failed', error)
  }
}

async function readImageBody(
  response: Response,
  options: ImageFetchOptions,
  signal: AbortSignal
): Promise<Uint8Array> {
  const maxBytes = options.maxBytes ?? MAX_IMAGE_BYTES
  if (!response.ok) {
    await response.body?.cancel()
    throw fetchProblem(`the server responded with HTTP ${response.status}`)
  }
  const declared = Number(response.headers.get('Content-Length') ?? NaN)
  if (declared > maxBytes) {
    await response.body?.cancel()
    throw tooLarge(maxBytes)
  }
  if (!response.body) return new Uint8Array()

  try {
    return await readLimited(response.body, maxBytes)
  } catch (error) {
    if (error instanceof ApiProblem) throw error
    if (signal.aborted) {
      throw fetchProblem(`it timed out after ${options.timeoutMs / 1000} s`, error)
    }
    throw fetchProblem('the download broke off', error)
  }
}

async function readLimited(
  body: ReadableStream<Uint8Array>,
  maxBytes: number
): Promise<Uint8Array> {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let sizeBytes = 0

  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    sizeBytes += value.byteLength
    if (sizeBytes > maxBytes) {
      await reader.cancel()
      throw tooLarge(maxBytes)
    }
    chunks.push(value)
  }

  const bytes = new Uint8Array(sizeBytes)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}

// Details never repeat the URL: it may carry a token the caller did not mean to log.
function fetchProblem(reason: string, cause?: unknown): ApiProblem {
  return new ApiProblem(
    'invalid-request',
    `image_url could not be fetched: ${reason}. Check the URL, or send the image bytes instead.`,
    { cause }
  )
}

function tooLarge(maxBytes: number): ApiProblem {
  return new ApiProblem(
    'image-too-large',
    `The image at image_url is over the limit of ${maxBytes} bytes. Send a smaller file.`
  )
}
