/**
 * Model inputs of Stable Diffusion inpainting for one working window, and the way back from the
 * VAE decoder's output to RGB.
 *
 * The conversions follow diffusers' StableDiffusionInpaintPipeline and VaeImageProcessor
 * (`pipeline_stable_diffusion_inpaint.py`, `image_processor.py`):
 * - image: resized with Lanczos, then x / 255 in float32, then 2x − 1, NCHW;
 * - mask: resized with Lanczos, then binarised (values ≥ 0.5 become 1, the rest 0);
 * - masked image: image × (mask < 0.5), so pixels to regenerate are 0 in [-1, 1] space;
 * - latent mask: the binarised mask resized to (h / 8, w / 8) by torch.nn.functional.interpolate
 *   with its default mode, nearest, which reads the source pixel at (8i, 8j);
 * - decoded sample: (x / 2 + 0.5) clamped to [0, 1], times 255, rounded half to even
 *   (NumPy's round), as 8-bit RGB.
 */
import type { GrayMask, RgbImage } from '../image/types.ts'
import { MASK_THRESHOLD } from './mask-ops.ts'
import { cropResizeGray, cropResizeRgb } from './resize.ts'
import { VAE_SCALE_FACTOR, type WorkingWindow } from './window.ts'

/** Everything the inpainting pipeline needs from one window, at model size. */
export interface InpaintInputs {
  /** Model-side width in pixels. */
  readonly width: number
  /** Model-side height in pixels. */
  readonly height: number
  /** The window's pixels at model size. */
  readonly imageWindow: RgbImage
  /** Image `[1, 3, height, width]`, float32 in [-1, 1]; the VAE encoder's input for keep-shape. */
  readonly imageNchw: Float32Array
  /** Binarised mask `[1, 1, height, width]`, 0 (keep) or 1 (regenerate). */
  readonly maskNchw: Float32Array
  /** Masked image `[1, 3, height, width]`, float32 in [-1, 1], 0 where the mask is 1. */
  readonly maskedImageNchw: Float32Array
  /** Latent mask `[1, 1, height / 8, width / 8]`, 0 or 1. */
  readonly latentMaskNchw: Float32Array
}

/**
 * The float32 value of each byte in [-1, 1], computed in the reference's float32 steps
 * (x / 255, then 2x − 1). Rounding x / 127.5 − 1 once from float64 differs by one unit in the
 * last place for bytes 64 to 191.
 */
const SIGNED_UNIT_OF_BYTE = Float32Array.from({ length: 256 }, (_, byte) =>
  Math.fround(Math.fround(2 * Math.fround(byte / 255)) - 1)
)

/**
 * Crops the window from the image and the grown mask and builds the inpainting inputs.
 *
 * @param image The full upright image.
 * @param grown The grown entity mask at the image's size.
 * @throws RangeError when the mask's size differs from the image's.
 */
export async function prepareInpaintInputs(
  image: RgbImage,
  grown: GrayMask,
  window: WorkingWindow
): Promise<InpaintInputs> {
  if (grown.width !== image.width || grown.height !== image.height) {
    throw new RangeError(
      `mask is ${grown.width}×${grown.height} but the image is ${image.width}×${image.height}`
    )
  }

  const { box, modelWidth: width, modelHeight: height } = window
  // NOTE: libvips' Lanczos-3 and Pillow's LANCZOS weigh edge pixels slightly differently, so a
  // few mask pixels whose resized value sits near 128 can binarise unlike the reference.
  const [imageWindow, maskWindow] = await Promise.all([
    cropResizeRgb(image, box, { width, height }),
    cropResizeGray(grown, box, { width, height }),
  ])

  const imageNchw = imageToNchw(imageWindow)
  const maskNchw = binarizeMask(maskWindow)
  return {
    width,
    height,
    imageWindow,
    imageNchw,
    maskNchw,
    maskedImageNchw: maskImageNchw(imageNchw, maskNchw),
    latentMaskNchw: downsampleMaskNearest(maskNchw, width, height),
  }
}

/** Converts interleaved 8-bit RGB to planar NCHW float32 in [-1, 1]. */
export function imageToNchw(image: RgbImage): Float32Array {
  const { data, width, height } = image
  const plane = width * height
  if (data.length !== plane * 3) {
    throw new RangeError(`image has ${data.length} bytes, expected ${width}×${height}×3`)
  }

  const nchw = new Float32Array(plane * 3)
  for (let i = 0; i < plane; i++) {
    nchw[i] = SIGNED_UNIT_OF_BYTE[data[i * 3]!]!
    nchw[plane + i] = SIGNED_UNIT_OF_BYTE[data[i * 3 + 1]!]!
    nchw[2 * plane + i] = SIGNED_UNIT_OF_BYTE[data[i * 3 + 2]!]!
  }
  return nchw
}

/** Binarises a mask to 1 where the byte is at least 128 (0.5 on a [0, 1] scale), else 0. */
export function binarizeMask(mask: GrayMask): Float32Array {
  const out = new Float32Array(mask.width * mask.height)
  for (let i = 0; i < out.length; i++) out[i] = mask.data[i]! >= MASK_THRESHOLD ? 1 : 0
  return out
}

/** Computes image × (mask < 0.5) for an NCHW image with batch 1 and a binarised mask. */
export function maskImageNchw(imageNchw: Float32Array, maskHw: Float32Array): Float32Array {
  const plane = maskHw.length
  if (imageNchw.length !== plane * 3) {
    throw new RangeError(`image has ${imageNchw.length} values, expected 3 × ${plane}`)
  }

  const masked = new Float32Array(imageNchw.length)
  for (let c = 0; c < 3; c++) {
    const offset = c * plane
    for (let i = 0; i < plane; i++)
      masked[offset + i] = maskHw[i]! < 0.5 ? imageNchw[offset + i]! : 0
  }
  return masked
}

/**
 * Downsamples a mask to latent size with nearest-neighbour sampling: out[i][j] = mask[8i][8j].
 *
 * @param maskHw Row-major mask of `width` × `height`, both multiples of 8.
 */
export function downsampleMaskNearest(
  maskHw: Float32Array,
  width: number,
  height: number
): Float32Array {
  if (width % VAE_SCALE_FACTOR !== 0 || height % VAE_SCALE_FACTOR !== 0) {
    throw new RangeError(`mask size must be a multiple of 8, got ${width}×${height}`)
  }
  if (maskHw.length !== width * height) {
    throw new RangeError(`mask has ${maskHw.length} values, expected ${width}×${height}`)
  }

  const latentWidth = width / VAE_SCALE_FACTOR
  const latentHeight = height / VAE_SCALE_FACTOR
  const latent = new Float32Array(latentWidth * latentHeight)
  for (let i = 0; i < latentHeight; i++) {
    const row = i * VAE_SCALE_FACTOR * width
    for (let j = 0; j < latentWidth; j++) {
      latent[i * latentWidth + j] = maskHw[row + j * VAE_SCALE_FACTOR]!
    }
  }
  return latent
}

/**
 * Converts the VAE decoder's `[1, 3, height, width]` sample in [-1, 1] to 8-bit RGB.
 *
 * @throws Error when the sample contains NaN, which fp16 VAE decoders can produce on overflow.
 */
export function rgbFromNchw(sampleNchw: Float32Array, width: number, height: number): RgbImage {
  const plane = width * height
  if (sampleNchw.length !== plane * 3) {
    throw new RangeError(`sample has ${sampleNchw.length} values, expected 3 × ${width}×${height}`)
  }

  const data = new Uint8Array(plane * 3)
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) {
      const value = sampleNchw[c * plane + i]!
      if (Number.isNaN(value)) {
        throw new Error(`decoded sample is NaN at channel ${c}, pixel ${i}; the VAE overflowed`)
      }
      data[i * 3 + c] = byteOfSignedUnit(value)
    }
  }
  return { data, width, height }
}

/** Maps x in [-1, 1] to a byte in the reference's float32 steps, rounding half to even. */
function byteOfSignedUnit(x: number): number {
  const unit = Math.fround(Math.fround(x / 2) + 0.5)
  const clamped = Math.min(1, Math.max(0, unit))
  const scaled = Math.fround(clamped * 255)
  const floor = Math.floor(scaled)
  const fraction = scaled - floor
  if (fraction > 0.5) return floor + 1
  if (fraction < 0.5) return floor
  return floor % 2 === 0 ? floor : floor + 1
}
