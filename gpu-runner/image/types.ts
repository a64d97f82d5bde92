/** Decoded 8-bit sRGB image, upright (EXIF orientation applied), interleaved RGB, row-major. */
export interface RgbImage {
  /** Length width × height × 3, values 0–255. */
  readonly data: Uint8Array
  readonly width: number
  readonly height: number
}

/** Binary or soft mask, one byte per pixel (0 = keep, 255 = edit), row-major. */
export interface GrayMask {
  readonly data: Uint8Array
  readonly width: number
  readonly height: number
}
