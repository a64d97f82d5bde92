/**
 * R2 reads and writes of the API's blobs. Writes are logged with key, size and duration; image
 * bytes never are.
 */
import type { ImageHeader } from '../../shared/image-sniff.ts'
import type { Logger } from '../../shared/logger.ts'
import { IMAGE_MEDIA_TYPES } from '../../shared/schemas/api.ts'
import { inputKey } from './blob-keys.ts'

/** A stored input image. */
export interface StoredInput {
  readonly key: string
  readonly sha256: string
  /** True when an identical image was already stored, so nothing was written. */
  readonly reused: boolean
}

/**
 * Stores an input image under its SHA-256, unless it is already there.
 *
 * Identical bytes give the identical key, so a second upload costs one HEAD and no write.
 */
export async function storeInput(options: {
  bucket: R2Bucket
  bytes: Uint8Array
  sha256: string
  header: ImageHeader
  log: Logger
}): Promise<StoredInput> {
  const { bucket, bytes, sha256, header, log } = options
  const key = inputKey(sha256)

  if (await bucket.head(key)) return { key, sha256, reused: true }

  await writeBlob({
    bucket,
    key,
    bytes,
    contentType: IMAGE_MEDIA_TYPES[header.format],
    customMetadata: { width: String(header.width), height: String(header.height) },
    log,
  })
  return { key, sha256, reused: false }
}

/** Writes one object and logs the write. */
export async function writeBlob(options: {
  bucket: R2Bucket
  key: string
  bytes: Uint8Array | ReadableStream
  contentType: string
  customMetadata?: Record<string, string>
  log: Logger
}): Promise<R2Object> {
  const { bucket, key, bytes, contentType, customMetadata, log } = options
  const startMs = Date.now()

  const object = await bucket.put(key, bytes, { httpMetadata: { contentType }, customMetadata })
  log.info('blob.written', { key, sizeBytes: object.size, durationMs: Date.now() - startMs })
  return object
}

/** Reads a whole object, or returns undefined when it does not exist. */
export async function readBlob(bucket: R2Bucket, key: string): Promise<Uint8Array | undefined> {
  const object = await bucket.get(key)
  if (!object) return undefined
  return new Uint8Array(await object.arrayBuffer())
}
