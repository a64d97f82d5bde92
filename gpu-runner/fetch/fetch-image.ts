/**
 * Reads an input image or mask given as a data URI or as a URL under a trusted prefix.
 *
 * URLs are fetched with a size limit, a time limit and at most `maxRedirects` redirects; every
 * hop is checked against the policy again, so a trusted host cannot redirect the runner to an
 * untrusted one. Failures are RunnerErrors whose messages show URLs without their query string,
 * so signatures never reach a response or a log.
 */
import { RunnerError } from '../errors.ts'
import { OutboundError, sendOutbound } from './outbound-request.ts'
import { checkOutboundUrl, redactUrl, type OutboundPolicy, type UrlPurpose } from './url-policy.ts'

/** Size, time and redirect limits for one image fetch. */
export interface FetchLimits {
  readonly maxBytes: number
  /** Limit for each hop, connection to last byte. */
  readonly timeoutMs: number
  readonly maxRedirects: number
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])

/**
 * Returns the bytes of the image or mask that `ref` names.
 *
 * @throws RunnerError `url-not-allowed`, `image-too-large`, `fetch-failed` (retryable for
 *   timeouts, network failures and 5xx responses), `invalid-input` for a malformed data URI, or
 *   `canceled` when `signal` aborts.
 */
export async function fetchImageBytes(options: {
  ref: string
  purpose: Extract<UrlPurpose, 'image' | 'mask'>
  policy: OutboundPolicy
  limits: FetchLimits
  signal?: AbortSignal
}): Promise<Uint8Array> {
  const { ref, purpose, policy, limits, signal } = options
  if (ref.startsWith('data:')) return decodeDataUri(ref, { purpose, maxBytes: limits.maxBytes })

  let url = checkOutboundUrl(ref, policy, purpose)
  for (let hop = 0; ; hop++) {
    const response = await sendGet({ url, purpose, policy, limits, signal })
    if (!REDIRECT_STATUSES.has(response.status)) return acceptBody(response, url, purpose)

    const location = response.headers.location
    if (location === undefined) {
      throw fetchFailed(purpose, url, `responded with ${response.status} without a Location header`)
    }
    if (hop >= limits.maxRedirects) {
      throw fetchFailed(purpose, url, `redirected more than ${limits.maxRedirects} times`)
    }
    url = checkOutboundUrl(new URL(location, url).href, policy, purpose)
  }
}

/**
 * Decodes a `data:image/...` URI (base64 or percent-encoded).
 *
 * @throws RunnerError `invalid-input` when the URI is malformed or not an image type,
 *   `image-too-large` when the decoded size exceeds `maxBytes`.
 */
export function decodeDataUri(
  uri: string,
  options: { purpose: UrlPurpose; maxBytes: number }
): Uint8Array {
  const { purpose, maxBytes } = options
  const comma = uri.indexOf(',')
  const header = comma === -1 ? '' : uri.slice('data:'.length, comma)
  if (comma === -1 || !/^image\/[\w.+-]+(;[\w-]+=[^;,]*)*(;base64)?$/i.test(header)) {
    throw new RunnerError(
      'invalid-input',
      `The ${purpose} data URI is malformed; use data:image/<type>;base64,<data>.`,
      { details: { field: purpose } }
    )
  }
  const payload = uri.slice(comma + 1)
  const isBase64 = /;base64$/i.test(header)

  // base64 carries 3 bytes per 4 characters; checking before decoding avoids the allocation.
  const estimatedBytes = isBase64 ? Math.floor((payload.length * 3) / 4) : payload.length
  if (estimatedBytes > maxBytes + 2) throw tooLargeError(purpose, maxBytes)
  const bytes = isBase64
    ? new Uint8Array(Buffer.from(payload, 'base64'))
    : new Uint8Array(Buffer.from(decodeURIComponent(payload), 'latin1'))
  if (bytes.byteLength > maxBytes) throw tooLargeError(purpose, maxBytes)
  return bytes
}

async function sendGet(options: {
  url: URL
  purpose: UrlPurpose
  policy: OutboundPolicy
  limits: FetchLimits
  signal: AbortSignal | undefined
}) {
  const { url, purpose, policy, limits, signal } = options

  try {
    return await sendOutbound({
      url,
      method: 'GET',
      headers: { accept: 'image/*' },
      rules: { allowLoopback: policy.local },
      timeoutMs: limits.timeoutMs,
      maxResponseBytes: limits.maxBytes,
      ...(signal ? { signal } : {}),
    })
  } catch (error) {
    throw fromOutboundError(error, purpose, url, limits)
  }
}

function acceptBody(
  response: { status: number; body: Uint8Array },
  url: URL,
  purpose: UrlPurpose
): Uint8Array {
  if (response.status < 200 || response.status > 299) {
    throw fetchFailed(
      purpose,
      url,
      `responded with HTTP ${response.status}`,
      response.status >= 500
    )
  }
  if (response.body.byteLength === 0) throw fetchFailed(purpose, url, 'returned an empty body')
  return response.body
}

function fromOutboundError(error: unknown, purpose: UrlPurpose, url: URL, limits: FetchLimits) {
  if (!(error instanceof OutboundError)) return error

  switch (error.failure) {
    case 'address-not-allowed':
      return new RunnerError(
        'url-not-allowed',
        `The ${purpose} URL (${redactUrl(url)}) points at an address the runner must not contact.`,
        { cause: error, details: { field: purpose } }
      )
    case 'too-large':
      return tooLargeError(purpose, limits.maxBytes, error)
    case 'timed-out':
      return fetchFailed(purpose, url, `did not answer within ${limits.timeoutMs} ms`, true, error)
    case 'aborted':
      return new RunnerError('canceled', `Fetching the ${purpose} was canceled.`, { cause: error })
    case 'network':
      return fetchFailed(purpose, url, `could not be reached: ${error.message}`, true, error)
    default: {
      const unhandled: never = error.failure
      return new TypeError(`Unhandled outbound failure ${String(unhandled)}`)
    }
  }
}

function fetchFailed(
  purpose: UrlPurpose,
  url: URL,
  reason: string,
  retryable = false,
  cause?: unknown
): RunnerError {
  return new RunnerError('fetch-failed', `The ${purpose} URL (${redactUrl(url)}) ${reason}.`, {
    retryable,
    cause,
    details: { field: purpose },
  })
}

function tooLargeError(purpose: UrlPurpose, maxBytes: number, cause?: unknown): RunnerError {
  return new RunnerError(
    'image-too-large',
    `The ${purpose} is larger than ${maxBytes} bytes; send a smaller file.`,
    { cause, details: { field: purpose, maxBytes } }
  )
}
