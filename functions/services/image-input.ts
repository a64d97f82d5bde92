/**
 * Input images. The bytes come from the body, a download or a direct upload. Their format, byte
 * size and pixel count are checked from the header without decoding, and then they are stored
 * under their SHA-256.
 */
import { inspectImage, type ImageHeader } from '../../shared/image-sniff.ts'
import { MAX_IMAGE_BYTES } from '../../shared/limits.ts'
import { ApiProblem } from '../../shared/problems.ts'
import { sha256Hex } from '../../shared/signing.ts'
import { uploadKey } from '../storage/blob-keys.ts'
import { readBlob, storeInput } from '../storage/blob-store.ts'
import type { ServiceContext } from './context.ts'
import type { ImageSource } from './edit-request.ts'
import { fetchImage } from './image-fetch.ts'

/** An input image that passed the checks and is in R2. */
export interface ResolvedImage {
  readonly key: string
  readonly sha256: string
  readonly header: ImageHeader
  readonly sizeBytes: number
}

/**
 * Reads, checks and stores the image of a request.
 *
 * @throws ApiProblem `unsupported-image` or `image-too-large` from the header checks,
 *   `invalid-request` for an unusable URL or upload id.
 */
export async function resolveImage(
  ctx: ServiceContext,
  options: { source: ImageSource; keyId: string }
): Promise<ResolvedImage> {
  const bytes = await readSource(ctx, options)

  const inspection = inspectImage(bytes)
  if (!inspection.ok) throw new ApiProblem(inspection.rejection.slug, inspection.rejection.detail)

  const sha256 = await sha256Hex(bytes)
  const stored = await storeInput({
    bucket: ctx.env.BLOBS,
    bytes,
    sha256,
    header: inspection.header,
    log: ctx.log,
  })
  ctx.log.info('input.stored', { sha256, reused: stored.reused, sizeBytes: bytes.byteLength })
  return { key: stored.key, sha256, header: inspection.header, sizeBytes: bytes.byteLength }
}

async function readSource(
  ctx: ServiceContext,
  options: { source: ImageSource; keyId: string }
): Promise<Uint8Array> {
  const { source, keyId } = options
  switch (source.kind) {
    case 'bytes':
      return source.bytes
    case 'url':
      return fetchImage(source.url, {
        timeoutMs: ctx.config.imageFetchTimeoutS * 1000,
        allowLoopback: ctx.config.allowLoopbackUrls,
        maxBytes: MAX_IMAGE_BYTES,
      })
    case 'upload':
      return readUpload(ctx, { uploadId: source.uploadId, keyId })
    default: {
      const unhandled: never = source
      throw new TypeError(`Unknown image source ${JSON.stringify(unhandled)}`)
    }
  }
}

async function readUpload(
  ctx: ServiceContext,
  options: { uploadId: string; keyId: string }
): Promise<Uint8Array> {
  const { uploadId, keyId } = options
  const row = await ctx.env.DB.prepare('SELECT key_id FROM uploads WHERE id = ?')
    .bind(uploadId)
    .first<{ key_id: string }>()
  // Another key's upload is reported as missing, so ids cannot be probed across keys.
  const bytes =
    row?.key_id === keyId ? await readBlob(ctx.env.BLOBS, uploadKey(uploadId)) : undefined
  if (!row || row.key_id !== keyId) {
    throw new ApiProblem('invalid-request', `No upload ${uploadId} exists for this API key.`)
  }
  if (!bytes) {
    throw new ApiProblem(
      'invalid-request',
      `Upload ${uploadId} has no data yet. PUT the image to its upload_url first, then retry.`
    )
  }
  return bytes
}
