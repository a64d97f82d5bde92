/**
 * Delivers a prediction's output files: a PUT to the caller's signed URL, or a data URI.
 *
 * An upload starts only once the whole file is encoded in memory and is sent with its
 * Content-Length, so the blob store either receives the complete object or rejects the request.
 * A run that fails or is killed before this point uploads nothing.
 */
import { OutboundError, sendOutbound } from '../fetch/outbound-request.ts'
import {
  checkOutboundUrl,
  redactUrl,
  type OutboundPolicy,
  type UrlPurpose,
} from '../fetch/url-policy.ts'

/** An output upload that the blob store refused or that could not be sent. */
export class UploadError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    options: { cause?: unknown } = {}
  ) {
    super(message, { cause: options.cause })
    this.name = 'UploadError'
  }
}

const UPLOAD_MAX_RESPONSE_BYTES = 64 * 1024

/**
 * PUTs `bytes` to the signed URL `url` and returns the URL without its query string (the object's
 * address without the write signature).
 *
 * @throws UploadError on a non-2xx response (retryable for 5xx), a timeout or a network failure.
 *   Redirects count as failures: a signed PUT URL names one object and is not forwarded.
 */
export async function uploadOutput(options: {
  url: string
  purpose: Extract<UrlPurpose, 'output_image_url' | 'output_mask_url'>
  bytes: Uint8Array
  contentType: string
  policy: OutboundPolicy
  timeoutMs: number
}): Promise<string> {
  const { purpose, bytes, contentType, policy, timeoutMs } = options
  const url = checkOutboundUrl(options.url, policy, purpose)

  let status: number
  try {
    const response = await sendOutbound({
      url,
      method: 'PUT',
      headers: { 'content-type': contentType },
      body: bytes,
      rules: { allowLoopback: policy.local },
      timeoutMs,
      maxResponseBytes: UPLOAD_MAX_RESPONSE_BYTES,
    })
    status = response.status
  } catch (error) {
    const reason = error instanceof OutboundError ? error.message : String(error)
    throw new UploadError(`Uploading to ${purpose} (${redactUrl(url)}) failed: ${reason}`, true, {
      cause: error,
    })
  }

  if (status < 200 || status > 299) {
    throw new UploadError(
      `Uploading to ${purpose} (${redactUrl(url)}) failed with HTTP ${status}.`,
      status >= 500
    )
  }
  return redactUrl(url)
}

/** Encodes bytes as a base64 data URI. */
export function toDataUri(bytes: Uint8Array, contentType: string): string {
  return `data:${contentType};base64,${Buffer.from(bytes).toString('base64')}`
}

/** Media type of an output format. */
export function contentTypeOf(format: 'png' | 'jpeg' | 'webp'): string {
  return `image/${format}`
}
