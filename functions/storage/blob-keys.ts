/**
 * Every R2 key the API uses is built here.
 *
 * ```
 * inputs/sha256/<hex>                      input images under their SHA-256, so a repeated
 *                                          upload is stored once
 * uploads/<upload id>                      direct uploads through a signed PUT URL, before the
 *                                          edge hashes them into inputs/
 * edits/<edit id>/<attempt>/image.<ext>    a runner attempt's result
 * edits/<edit id>/<attempt>/mask.png       the mask that attempt used
 * ```
 *
 * Result keys carry the attempt number, so a late upload from an abandoned attempt never
 * replaces the result of the attempt the edit records.
 */
import type { ImageFormat } from '../../shared/limits.ts'

const SHA256_HEX = /^[0-9a-f]{64}$/

/** Key of an input image stored under its SHA-256. */
export function inputKey(sha256Hex: string): string {
  if (!SHA256_HEX.test(sha256Hex)) throw new TypeError(`Not a SHA-256 hex digest: ${sha256Hex}`)
  return `inputs/sha256/${sha256Hex}`
}

/** Key a direct upload is PUT to. */
export function uploadKey(uploadId: string): string {
  return `uploads/${uploadId}`
}

/** Key of the edited image of one runner attempt. */
export function resultImageKey(editId: string, attempt: number, format: ImageFormat): string {
  return `edits/${editId}/${attempt}/image.${format === 'jpeg' ? 'jpg' : format}`
}

/** Key of the mask of one runner attempt. */
export function resultMaskKey(editId: string, attempt: number): string {
  return `edits/${editId}/${attempt}/mask.png`
}

const KEY_PATTERNS = [
  /^inputs\/sha256\/[0-9a-f]{64}$/,
  /^uploads\/upl_[A-Za-z0-9]+$/,
  /^edits\/edt_[A-Za-z0-9]+\/\d+\/(image\.(png|jpg|webp)|mask\.png)$/,
]

/** Checks that `key` is one this module builds, so a signed URL can name nothing else. */
export function isKnownBlobKey(key: string): boolean {
  return KEY_PATTERNS.some((pattern) => pattern.test(key))
}
