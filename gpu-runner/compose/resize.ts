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
  const data = await resample(image, 3, { crop: box, size })
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
  const data = await resample(mask, 1, { crop: box, size })
  return { data, width: size.width, height: size.height }
}

/**
 * Resizes a whole RGB image to `size` (Lanczos-3) and returns only `part` of the result.
 *
 * libvips computes pixels on demand, so only `part` and its kernel margin are resampled.
 *
 * @param part Box within the resized image, `[x0, y0, x1, y1]`.
 */
export async function resizeRgbPart(
  image: RgbImage,
  size: TargetSize,
  part: PixelBox
): Promise<RgbImage> {
  const crop: PixelBox = [0, 0, image.width, image.height]
  const data = await resample(image, 3, { crop, size, part })
  return { data, width: part[2] - part[0], height: part[3] - part[1] }
}

/** Crop, resize to `size`, then keep `part` of the resized image (all of it by default). */
async function resample(
  raster: Raster,
  channels: 1 | 3,
  steps: { crop: PixelBox; size: TargetSize; part?: PixelBox }
): Promise<Uint8Array> {
  const { crop, size, part = [0, 0, size.width, size.height] } = steps
  assertRaster(raster, channels)
  assertTargetSize(size)
  assertBox('crop box', crop, raster)
  assertBox('part', part, size)

  const pipeline = sharp(raster.data, {
    raw: { width: raster.width, height: raster.height, channels },
    // Raw input has no header to check, and the caller already has every pixel in memory, so
    // the decompression-bomb limit has nothing to protect.
    limitInputPixels: false,
  })
    .extract(toRegion(crop))
    .resize(size.width, size.height, { fit: 'fill', kernel: 'lanczos3' })
    .extract(toRegion(part))
  // Without `b-w`, sharp writes sRGB (3 channels) even for a 1-channel input.
  if (channels === 1) pipeline.toColourspace('b-w')
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true })

  const partWidth = part[2] - part[0]
  const partHeight = part[3] - part[1]
  if (info.channels !== channels || data.length !== partWidth * partHeight * channels) {
    throw new Error(
      `sharp returned ${info.width}×${info.height}×${info.channels}, ` +
        `expected ${partWidth}×${partHeight}×${channels}`
    )
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length)
}

function toRegion(box: PixelBox): { left: number; top: number; width: number; height: number } {
  return { left: box[0], top: box[1], width: box[2] - box[0], height: box[3] - box[1] }
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

function assertBox(name: string, box: PixelBox, area: TargetSize): void {
  const [x0, y0, x1, y1] = box
  const valid =
    box.every(Number.isInteger) &&
    x0 >= 0 &&
    y0 >= 0 &&
    x0 < x1 &&
    y0 < y1 &&
    x1 <= area.width &&
    y1 <= area.height
  if (!valid) {
    throw new RangeError(
      `${name} [${box.join(', ')}] must be non-empty and inside ${area.width}×${area.height}`
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
