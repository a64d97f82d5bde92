/**
 * SAM image preprocessing: resize so the longest side is 1024 px, normalise, pad to a square,
 * and map point prompts into the resized frame.
 *
 * Reference: facebookresearch/segment-anything, `ResizeLongestSide` in
 * `segment_anything/utils/transforms.py` and `Sam.preprocess` in `modeling/sam.py`.
 */
import type { RgbImage } from '../../image/types.ts'
import { resizeRgbBilinear } from './bilinear-resize.ts'
import { SAM_IMAGE_SIZE_PX } from '../contracts.ts'
import type { SamEncoderConfig } from './sam-config.ts'

/** Sizes of the upright image and of the resized copy that is fed to the encoder. */
export interface SamFrame {
  readonly originalWidth: number
  readonly originalHeight: number
  /** Width after resizing the longest side to SAM_IMAGE_SIZE_PX, before padding. */
  readonly resizedWidth: number
  readonly resizedHeight: number
}

/** Encoder input tensor data and its dims. */
export interface SamEncoderInput {
  readonly pixels: Float32Array
  readonly dims: readonly number[]
  readonly frame: SamFrame
}

/**
 * Computes the frame of an image: the size its longest side becomes `longestSide`, with the
 * reference rounding `int(side * scale + 0.5)`.
 *
 * @throws RangeError when a side is not a positive integer.
 */
export function computeSamFrame(
  width: number,
  height: number,
  longestSide: number = SAM_IMAGE_SIZE_PX
): SamFrame {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`Image size must be positive integers, got ${width}x${height}.`)
  }

  const scale = longestSide / Math.max(width, height)
  return {
    originalWidth: width,
    originalHeight: height,
    resizedWidth: Math.trunc(width * scale + 0.5),
    resizedHeight: Math.trunc(height * scale + 0.5),
  }
}

/**
 * Maps a point from upright image pixels to the resized frame, as `apply_coords` does: each
 * axis scales by its own ratio of resized to original size.
 */
export function toResizedPoint(frame: SamFrame, x: number, y: number): [number, number] {
  return [
    x * (frame.resizedWidth / frame.originalWidth),
    y * (frame.resizedHeight / frame.originalHeight),
  ]
}

/** Builds the encoder input for `image` in the layout `config.pixelInput` names. */
export function buildSamEncoderInput(image: RgbImage, config: SamEncoderConfig): SamEncoderInput {
  const frame = computeSamFrame(image.width, image.height)
  const resized = resizeRgbBilinear(image, frame.resizedWidth, frame.resizedHeight)

  switch (config.pixelInput) {
    case 'normalized-nchw':
      return {
        pixels: normalizeAndPad(resized, config),
        dims: [1, 3, SAM_IMAGE_SIZE_PX, SAM_IMAGE_SIZE_PX],
        frame,
      }
    case 'raw-hwc':
      return {
        pixels: Float32Array.from(resized.data),
        dims: [resized.height, resized.width, 3],
        frame,
      }
    default: {
      const unknown: never = config.pixelInput
      throw new TypeError(`Unknown SAM pixel input layout: ${String(unknown)}`)
    }
  }
}

/**
 * Normalises a resized image per channel and writes it top-left into a zero-filled
 * `[1, 3, 1024, 1024]` tensor, so the padding is 0 after normalisation as in `Sam.preprocess`.
 */
function normalizeAndPad(resized: RgbImage, config: SamEncoderConfig): Float32Array {
  const plane = SAM_IMAGE_SIZE_PX * SAM_IMAGE_SIZE_PX
  const pixels = new Float32Array(3 * plane)
  const tables = [0, 1, 2].map((channel) => buildNormalizeTable(config, channel))

  for (let channel = 0; channel < 3; channel++) {
    const table = tables[channel] as Float32Array
    const planeOffset = channel * plane
    for (let y = 0; y < resized.height; y++) {
      const rowIn = y * resized.width * 3 + channel
      const rowOut = planeOffset + y * SAM_IMAGE_SIZE_PX
      for (let x = 0; x < resized.width; x++) {
        pixels[rowOut + x] = table[resized.data[rowIn + x * 3] ?? 0] ?? 0
      }
    }
  }
  return pixels
}

// One value per byte. Each step rounds to float32, as the reference's float32 tensor maths does.
function buildNormalizeTable(config: SamEncoderConfig, channel: number): Float32Array {
  const mean = Math.fround(config.pixelMean[channel] ?? 0)
  const std = Math.fround(config.pixelStd[channel] ?? 1)
  const table = new Float32Array(256)
  for (let value = 0; value < 256; value++) {
    table[value] = Math.fround(value - mean) / std
  }
  return table
}
