/**
 * Crop-and-resize of raw 8-bit rasters through sharp (libvips), which does both in one pass
 * over the cropped region only, so cropping a window from a 12-megapixel photo costs little.
 */
import sharp from 'sharp'

import type { GrayMask, RgbImage } from '../image/types.ts'
import type { PixelBox } from '../pipeline/types.ts'

/** Interleaved 8-bit raster with 1 (gray) or 3 (RGB) channels. */
interface Raster {
  readonly data: Uint8Array
  readonly width: number
  readonly height: number
}

/** Target size of a resize, in pixels. */
export interface TargetSize {
  readonly width: number
  readonly height: number
}

/**
 * Crops an RGB image to `box` and resizes the crop to `size` with a Lanczos-3 kernel.
 *
 * Lanczos matches the reference inpainting pipeline, which resizes with Pillow's LANCZOS.
 */
export async function cropResizeRgb(
  image: RgbImage,
  box: PixelBox,
  size: TargetSize
): Promise<RgbImage> {
  const data = await cropResize(image, 3, box, size)
  return { data, width: size.width, height: size.height }
}

/**
 * Crops a mask to `box` and resizes the crop to `size` with a Lanczos-3 kernel.
 *
 * The result is soft at edges; binarise it before use as a model input.
 */
export async function cropResizeGray(
  mask: GrayMask,
  box: PixelBox,
  size: TargetSize
): Promise<GrayMask> {
  const data = await cropResize(mask, 1, box, size)
  return { data, width: size.width, height: size.height }
}

async function cropResize(
  raster: Raster,
  channels: 1 | 3,
  box: PixelBox,
  size: TargetSize
): Promise<Uint8Array> {
  assertRaster(raster, channels)
  assertCrop(box, raster)
  assertTargetSize(size)

  const [x0, y0, x1, y1] = box
  const pipeline = sharp(raster.data, {
    raw: { width: raster.width, height: raster.height, channels },
    // Raw input carries no header, so the decompression-bomb limit does not apply; the caller
    // already holds every pixel in memory.
    limitInputPixels: false,
  })
    .extract({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 })
    .resize(size.width, size.height, { fit: 'fill', kernel: 'lanczos3' })
  // sharp writes sRGB (3 channels) unless told otherwise, even for a 1-channel input.
  if (channels === 1) pipeline.toColourspace('b-w')
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true })

  if (info.channels !== channels || data.length !== size.width * size.height * channels) {
    throw new Error(
      `sharp returned ${info.width}×${info.height}×${info.channels}, ` +
        `expected ${size.width}×${size.height}×${channels}`
    )
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length)
}

function assertRaster(raster: Raster, channels: number): void {
  const { width, height, data } = raster
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`raster size must be positive integers, got ${width}×${height}`)
  }
  if (data.length !== width * height * channels) {
    throw new RangeError(
      `raster has ${data.length} bytes, expected ${width}×${height}×${channels} channels`
    )
  }
}

function assertCrop(box: PixelBox, raster: Raster): void {
  const [x0, y0, x1, y1] = box
  const valid =
    box.every(Number.isInteger) &&
    x0 >= 0 &&
    y0 >= 0 &&
    x0 < x1 &&
    y0 < y1 &&
    x1 <= raster.width &&
    y1 <= raster.height
  if (!valid) {
    throw new RangeError(
      `crop box [${box.join(', ')}] must be non-empty and inside the ` +
        `${raster.width}×${raster.height} raster`
    )
  }
}

function assertTargetSize(size: TargetSize): void {
  if (!Number.isInteger(size.width) || !Number.isInteger(size.height)) {
    throw new RangeError(`target size must be integers, got ${size.width}×${size.height}`)
  }
  if (size.width < 1 || size.height < 1) {
    throw new RangeError(`target size must be positive, got ${size.width}×${size.height}`)
  }
}
