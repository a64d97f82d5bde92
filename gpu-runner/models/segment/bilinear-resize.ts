/**
 * Resizes 8-bit RGB images the way Pillow's `Image.resize(size, Image.BILINEAR)` does, to the
 * byte. The SAM reference preprocessing (`ResizeLongestSide.apply_image`) resizes with Pillow,
 * and the encoder was trained on such inputs.
 *
 * Pillow (`src/libImaging/Resample.c`) resamples in two separable passes, horizontal first.
 * Each pass uses a triangle filter whose support widens by the scale factor when shrinking, so
 * it antialiases. Coefficients are 22-bit fixed point, and values are rounded and clamped to
 * 8 bits between the passes. A pass whose size does not change is skipped.
 */
import type { RgbImage } from '../../image/types.ts'

const CHANNELS = 3

// Pillow's PRECISION_BITS for 8-bit images: 32 - 8 - 2.
const PRECISION_BITS = 22
const HALF = 1 << (PRECISION_BITS - 1)
const ONE = 1 << PRECISION_BITS

/** Filter taps of one resampling pass: for each output index, a window of source indices. */
interface PassCoefficients {
  /** First source index of each output index's window. */
  readonly starts: Int32Array
  /** Window length of each output index. */
  readonly lengths: Int32Array
  /** Fixed-point weights, `windowSize` per output index. */
  readonly weights: Int32Array
  readonly windowSize: number
}

/**
 * Resizes `image` to `width` × `height` with Pillow's bilinear filter.
 *
 * @throws RangeError when a target side is not a positive integer.
 */
export function resizeRgbBilinear(image: RgbImage, width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`Resize target must be positive integers, got ${width}x${height}.`)
  }

  let current = image
  if (width !== image.width) {
    current = resizeHorizontal(current, width)
  }
  if (height !== image.height) {
    current = resizeVertical(current, height)
  }
  return current
}

function triangle(x: number): number {
  const distance = Math.abs(x)
  return distance < 1 ? 1 - distance : 0
}

function computeCoefficients(inSize: number, outSize: number): PassCoefficients {
  const scale = inSize / outSize
  const filterScale = Math.max(scale, 1)
  const support = filterScale
  // Pillow multiplies by the reciprocal rather than dividing; the last bits of a weight can differ.
  const inverseFilterScale = 1 / filterScale
  const windowSize = Math.ceil(support) * 2 + 1
  const starts = new Int32Array(outSize)
  const lengths = new Int32Array(outSize)
  const weights = new Int32Array(outSize * windowSize)
  const taps = new Float64Array(windowSize)

  for (let out = 0; out < outSize; out++) {
    const center = (out + 0.5) * scale
    // Pillow truncates toward zero here; the clamp to 0 makes that equal to rounding.
    const start = Math.max(Math.trunc(center - support + 0.5), 0)
    const end = Math.min(Math.trunc(center + support + 0.5), inSize)
    let sum = 0
    for (let i = start; i < end; i++) {
      const tap = triangle((i - center + 0.5) * inverseFilterScale)
      taps[i - start] = tap
      sum += tap
    }
    for (let i = 0; i < end - start; i++) {
      const normalized = sum === 0 ? (taps[i] ?? 0) : (taps[i] ?? 0) / sum
      // Pillow rounds half away from zero when converting to fixed point.
      weights[out * windowSize + i] = Math.trunc(normalized * ONE + (normalized < 0 ? -0.5 : 0.5))
    }
    starts[out] = start
    lengths[out] = end - start
  }
  return { starts, lengths, weights, windowSize }
}

function clampToByte(accumulator: number): number {
  const value = accumulator >> PRECISION_BITS
  if (value < 0) return 0
  return Math.min(value, 255)
}

function resizeHorizontal(image: RgbImage, outWidth: number): RgbImage {
  const { starts, lengths, weights, windowSize } = computeCoefficients(image.width, outWidth)
  const src = image.data
  const out = new Uint8Array(outWidth * image.height * CHANNELS)

  for (let y = 0; y < image.height; y++) {
    const rowIn = y * image.width * CHANNELS
    const rowOut = y * outWidth * CHANNELS
    for (let x = 0; x < outWidth; x++) {
      const base = (starts[x] ?? 0) * CHANNELS + rowIn
      const count = lengths[x] ?? 0
      const k = x * windowSize
      let r = HALF
      let g = HALF
      let b = HALF
      for (let i = 0; i < count; i++) {
        const weight = weights[k + i] ?? 0
        const p = base + i * CHANNELS
        r += (src[p] ?? 0) * weight
        g += (src[p + 1] ?? 0) * weight
        b += (src[p + 2] ?? 0) * weight
      }
      const o = rowOut + x * CHANNELS
      out[o] = clampToByte(r)
      out[o + 1] = clampToByte(g)
      out[o + 2] = clampToByte(b)
    }
  }
  return { data: out, width: outWidth, height: image.height }
}

function resizeVertical(image: RgbImage, outHeight: number): RgbImage {
  const { starts, lengths, weights, windowSize } = computeCoefficients(image.height, outHeight)
  const src = image.data
  const rowLength = image.width * CHANNELS
  const out = new Uint8Array(rowLength * outHeight)

  for (let y = 0; y < outHeight; y++) {
    const base = (starts[y] ?? 0) * rowLength
    const count = lengths[y] ?? 0
    const k = y * windowSize
    const rowOut = y * rowLength
    for (let i = 0; i < rowLength; i++) {
      let sum = HALF
      for (let j = 0; j < count; j++) {
        sum += (src[base + j * rowLength + i] ?? 0) * (weights[k + j] ?? 0)
      }
      out[rowOut + i] = clampToByte(sum)
    }
  }
  return { data: out, width: image.width, height: outHeight }
}
