/**
 * CLIP image preprocessing, as openai/CLIP `_transform` (torchvision on a PIL image) and
 * Hugging Face `CLIPImageProcessor` do it:
 * 1. resize so the shortest side is 224, the other side `trunc(224 × long / short)`, with PIL's
 *    bicubic filter;
 * 2. centre-crop 224 × 224;
 * 3. scale to [0, 1] and normalise with CLIP's per-channel mean and std;
 * 4. lay out as NCHW float32.
 *
 * The resize is a port of the algorithm of Pillow's `libImaging/Resample.c` (bicubic, a = −0.5):
 * a separable convolution whose kernel widens by the scale factor when shrinking (so it
 * antialiases), with 22-bit fixed-point weights, the horizontal pass first and the intermediate
 * rounded to 8 bits. It gives the same bytes as Pillow 9.4 on every image of its tests, so no
 * tolerance is needed against PIL. sharp 0.35's `cubic` kernel was not used because it differs
 * from Pillow by up to 12 levels (640×480 → 298×224) and 29 levels (50×20 → 560×224) on the
 * test patterns.
 */
import type { RgbImage } from '../image/types.ts'

/** Side of the square CLIP input, in pixels. */
export const CLIP_IMAGE_SIZE = 224

/** Per-channel mean of CLIP's training images (RGB, 0–1 scale). */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const

/** Per-channel standard deviation of CLIP's training images (RGB, 0–1 scale). */
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const

/**
 * Rule that places the centre crop when the excess is odd. torchvision (openai/CLIP) uses
 * `round(excess / 2)` with Python's round-half-to-even; transformers uses `floor(excess / 2)`.
 * They differ by one pixel when the excess is 3 mod 4.
 */
export type CenterCropRule = 'torchvision' | 'transformers'

/** Options of `preprocessClipImage`. */
export interface ClipPreprocessOptions {
  /** Side of the square input; default `CLIP_IMAGE_SIZE`. */
  readonly size?: number
  /** Default `'torchvision'`, the rule of openai/CLIP. */
  readonly cropRule?: CenterCropRule
  /** Batch tensor NCHW float32 to write into; default a new `[1, 3, size, size]` tensor. */
  readonly target?: Float32Array
  /** Index of the image in `target`'s batch; default 0. */
  readonly batchIndex?: number
}

/** Resampling filter support of the bicubic kernel, in input pixels at scale 1. */
const BICUBIC_SUPPORT = 2

/** Keys' cubic convolution parameter used by Pillow's bicubic filter. */
const BICUBIC_A = -0.5

/** Fraction bits of Pillow's fixed-point resampling weights for 8-bit images (32 − 8 − 2). */
const PRECISION_BITS = 22

/**
 * Converts an RGB image into the CLIP image encoder's input: pixels NCHW float32, normalised
 * with `CLIP_MEAN` and `CLIP_STD`, so values lie in about [−1.8, 2.2].
 *
 * The arithmetic is torchvision's: `float32(v) / 255`, then `(x − mean) / std` in float32.
 */
export function preprocessClipImage(
  image: RgbImage,
  options: ClipPreprocessOptions = {}
): Float32Array {
  const { size = CLIP_IMAGE_SIZE, cropRule = 'torchvision', batchIndex = 0 } = options
  const target = options.target ?? new Float32Array(3 * size * size)
  const planeSize = size * size
  if ((batchIndex + 1) * 3 * planeSize > target.length) {
    throw new RangeError(
      `Batch index ${batchIndex} does not fit a target of ${target.length} floats ` +
        `(${3 * planeSize} per image)`
    )
  }

  const resizedSize = clipResizeSize(image.width, image.height, size)
  const resized = resizeBicubic(image, resizedSize.width, resizedSize.height)
  const left = centerCropOffset(resized.width, size, cropRule)
  const top = centerCropOffset(resized.height, size, cropRule)

  const base = batchIndex * 3 * planeSize
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const source = ((top + y) * resized.width + left + x) * 3
      const pixel = y * size + x
      for (let channel = 0; channel < 3; channel++) {
        const value = resized.data[source + channel] as number
        target[base + channel * planeSize + pixel] = NORMALISED[channel]?.[value] as number
      }
    }
  }
  return target
}

/** `(v / 255 − mean) / std` for every byte value, per channel, with torchvision's float32 steps. */
const NORMALISED: readonly Float32Array[] = [0, 1, 2].map((channel) => {
  const mean = Math.fround(CLIP_MEAN[channel] as number)
  const std = Math.fround(CLIP_STD[channel] as number)
  return Float32Array.from({ length: 256 }, (_, value) => {
    const scaled = Math.fround(value / 255)
    return Math.fround(Math.fround(scaled - mean) / std)
  })
})

/**
 * Computes the size after the resize step: shortest side `shortest`, the other side scaled
 * and truncated as torchvision's `Resize(int)` and transformers' `shortest_edge` both do.
 */
export function clipResizeSize(
  width: number,
  height: number,
  shortest: number = CLIP_IMAGE_SIZE
): { width: number; height: number } {
  if (width <= height) return { width: shortest, height: Math.trunc((shortest * height) / width) }
  return { width: Math.trunc((shortest * width) / height), height: shortest }
}

/** Computes the first kept pixel when centre-cropping `length` pixels to `cropLength`. */
export function centerCropOffset(
  length: number,
  cropLength: number,
  rule: CenterCropRule = 'torchvision'
): number {
  if (cropLength > length) {
    throw new RangeError(`Cannot crop ${length} pixels to ${cropLength}`)
  }
  const excess = length - cropLength
  if (rule === 'transformers') return Math.floor(excess / 2)
  return roundHalfToEven(excess / 2)
}

function roundHalfToEven(value: number): number {
  const floor = Math.floor(value)
  const fraction = value - floor
  if (fraction !== 0.5) return Math.round(value)
  return floor % 2 === 0 ? floor : floor + 1
}

/**
 * Resizes an RGB image with Pillow's bicubic filter (`Image.resize(size, Image.BICUBIC)`).
 * An unchanged dimension is not resampled, as in Pillow.
 */
export function resizeBicubic(image: RgbImage, width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`Resize target must be positive integers, got ${width}×${height}`)
  }

  let current = image
  if (width !== current.width) current = resampleAxis(current, width, 'horizontal')
  if (height !== current.height) current = resampleAxis(current, height, 'vertical')
  return current === image ? { ...image, data: image.data.slice() } : current
}

interface AxisWeights {
  /** First input pixel of each output pixel. */
  readonly start: Int32Array
  /** Number of input pixels of each output pixel. */
  readonly count: Int32Array
  /** Fixed-point weights, `taps` per output pixel, PRECISION_BITS fraction bits. */
  readonly weights: Int32Array
  readonly taps: number
}

function bicubic(distance: number): number {
  const x = Math.abs(distance)
  if (x < 1) return ((BICUBIC_A + 2) * x - (BICUBIC_A + 3)) * x * x + 1
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * BICUBIC_A
  return 0
}

/** Computes Pillow's per-output-pixel windows and fixed-point weights along one axis. */
function computeAxisWeights(inputLength: number, outputLength: number): AxisWeights {
  const scale = inputLength / outputLength
  const filterScale = Math.max(scale, 1)
  const support = BICUBIC_SUPPORT * filterScale
  const taps = Math.ceil(support) * 2 + 1
  const start = new Int32Array(outputLength)
  const count = new Int32Array(outputLength)
  const weights = new Int32Array(outputLength * taps)
  const real = new Float64Array(taps)
  // Pillow multiplies by the reciprocal instead of dividing; the rounding differs, so keep it.
  const inverseScale = 1 / filterScale

  for (let out = 0; out < outputLength; out++) {
    const center = (out + 0.5) * scale
    // Math.trunc matches the C cast in Pillow; the clamps keep the window inside the image.
    const first = Math.max(Math.trunc(center - support + 0.5), 0)
    const length = Math.min(Math.trunc(center + support + 0.5), inputLength) - first
    let total = 0
    for (let tap = 0; tap < length; tap++) {
      real[tap] = bicubic((tap + first - center + 0.5) * inverseScale)
      total += real[tap] as number
    }
    for (let tap = 0; tap < length; tap++) {
      const weight = total === 0 ? (real[tap] as number) : (real[tap] as number) / total
      const fixed = weight * (1 << PRECISION_BITS)
      weights[out * taps + tap] = Math.trunc(weight < 0 ? fixed - 0.5 : fixed + 0.5)
    }
    start[out] = first
    count[out] = length
  }
  return { start, count, weights, taps }
}

/** Resamples along one axis, rounding each result to 8 bits as Pillow does between passes. */
function resampleAxis(
  image: RgbImage,
  outputLength: number,
  axis: 'horizontal' | 'vertical'
): RgbImage {
  const horizontal = axis === 'horizontal'
  const width = horizontal ? outputLength : image.width
  const height = horizontal ? image.height : outputLength
  const { start, count, weights, taps } = computeAxisWeights(
    horizontal ? image.width : image.height,
    outputLength
  )
  // Byte distances between neighbouring input pixels along the axis (tap) and across it (line).
  const tapStep = horizontal ? 3 : image.width * 3
  const lineStep = horizontal ? image.width * 3 : 3
  const lines = horizontal ? height : width
  const source = image.data
  const data = new Uint8Array(width * height * 3)
  const half = 1 << (PRECISION_BITS - 1)
  const unit = 1 << PRECISION_BITS

  for (let out = 0; out < outputLength; out++) {
    const tapCount = count[out] as number
    const firstWeight = out * taps
    const firstTap = (start[out] as number) * tapStep
    for (let line = 0; line < lines; line++) {
      let red = half
      let green = half
      let blue = half
      let offset = firstTap + line * lineStep
      for (let tap = 0; tap < tapCount; tap++) {
        const weight = weights[firstWeight + tap] as number
        red += (source[offset] as number) * weight
        green += (source[offset + 1] as number) * weight
        blue += (source[offset + 2] as number) * weight
        offset += tapStep
      }
      const target = horizontal ? (line * width + out) * 3 : (out * width + line) * 3
      data[target] = clampByte(Math.floor(red / unit))
      data[target + 1] = clampByte(Math.floor(green / unit))
      data[target + 2] = clampByte(Math.floor(blue / unit))
    }
  }
  return { data, width, height }
}

function clampByte(value: number): number {
  return Math.min(255, Math.max(0, value))
}
