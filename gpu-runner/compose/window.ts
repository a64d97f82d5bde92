/**
 * The working window: the part of the photo that the inpainting model regenerates.
 *
 * Only a window around the entity goes through the model, resized to the model's resolution.
 * The model's cost therefore stays flat as photos grow, and a small entity is enlarged to the
 * model's full resolution instead of being a few latent cells of a downscaled photo.
 */
import type { PixelBox } from '../pipeline/types.ts'

/** Downsampling factor between image pixels and latents in the Stable Diffusion VAE. */
export const VAE_SCALE_FACTOR = 8

/** Square side, in pixels, that SD 1.5 and SD 2 inpainting models were trained at. */
export const DEFAULT_MODEL_RESOLUTION = 512

/**
 * Multiple that model-side sizes snap to by default: 64 pixels, 8 latents.
 *
 * The SD UNet halves the latents three times and concatenates each upsampled level with its
 * skip connection. ONNX exports traced at 64×64 latents upsample by a fixed factor of 2, so a
 * latent side that is not divisible by 8 makes those concatenations fail.
 */
export const DEFAULT_SIZE_MULTIPLE = 64

/** Margin added on each side of the mask box, as a fraction of the box's longer side. */
export const DEFAULT_CONTEXT_FRACTION = 0.25

/**
 * Largest enlargement from window to model size, which sets the smallest window side.
 *
 * At 16× one image pixel covers two latent cells (16 model pixels), so even a single-pixel
 * mask contains a pixel at a multiple of 8 and survives the nearest-neighbour downsampling to
 * the latent mask.
 */
export const MAX_UPSCALE = 16

/** A window in the upright image and the size it is resized to for the model. */
export interface WorkingWindow {
  /** `[x0, y0, x1, y1]` in upright image pixels, x1 and y1 exclusive. */
  readonly box: PixelBox
  /** Model-side width in pixels, a multiple of the size multiple. */
  readonly modelWidth: number
  /** Model-side height in pixels, a multiple of the size multiple. */
  readonly modelHeight: number
}

/** Options of {@link computeWindow}. */
export interface WindowOptions {
  /** Model-side square size in pixels; default 512. */
  readonly resolution?: number
  /** Margin on each side, as a fraction of the mask box's longer side; default 0.25. */
  readonly contextFraction?: number
  /** Multiple of 8 that model-side sizes snap to; default 64. */
  readonly sizeMultiple?: number
}

/**
 * Computes the working window around a mask box.
 *
 * The rule, in order:
 * 1. side = max(ceil(L × (1 + 2c)), ceil(R / MAX_UPSCALE)), where L is the longer side of the
 *    mask box, c the context fraction and R the resolution.
 * 2. The window is side × side, cut to the image's width and height where the image is
 *    smaller (a thin strip such as 7×5000 gets a 7-pixel-wide window).
 * 3. It is centred on the mask box (left and top edges rounded down), then shifted to lie
 *    inside the image. It always contains the whole mask box.
 * 4. A square window maps to R × R. Otherwise the longer side maps to R and the shorter to
 *    R × short / long rounded to the nearest size multiple, at least one size multiple.
 *
 * @param maskBox Bounding box of the grown mask, non-empty and inside the image.
 * @throws RangeError when the box is empty or outside the image, or an option is out of range.
 */
export function computeWindow(
  maskBox: PixelBox,
  imageSize: { readonly width: number; readonly height: number },
  options: WindowOptions = {}
): WorkingWindow {
  const {
    resolution = DEFAULT_MODEL_RESOLUTION,
    contextFraction = DEFAULT_CONTEXT_FRACTION,
    sizeMultiple = DEFAULT_SIZE_MULTIPLE,
  } = options
  assertOptions(resolution, contextFraction, sizeMultiple)
  assertBoxInImage(maskBox, imageSize)

  const [bx0, by0, bx1, by1] = maskBox
  const longer = Math.max(bx1 - bx0, by1 - by0)
  const side = Math.max(
    Math.ceil(longer * (1 + 2 * contextFraction)),
    Math.ceil(resolution / MAX_UPSCALE)
  )
  const windowWidth = Math.min(side, imageSize.width)
  const windowHeight = Math.min(side, imageSize.height)

  const x0 = placeSpan(bx0, bx1, windowWidth, imageSize.width)
  const y0 = placeSpan(by0, by1, windowHeight, imageSize.height)
  const box: PixelBox = [x0, y0, x0 + windowWidth, y0 + windowHeight]
  const [modelWidth, modelHeight] = modelSize(windowWidth, windowHeight, resolution, sizeMultiple)
  return { box, modelWidth, modelHeight }
}

/** Start of a span of `length` centred on [start, end), shifted to lie within [0, limit). */
function placeSpan(start: number, end: number, length: number, limit: number): number {
  const centred = Math.floor((start + end - length) / 2)
  return Math.min(Math.max(centred, 0), limit - length)
}

/** Model-side size for a window, by step 4 of the rule in computeWindow. */
function modelSize(
  width: number,
  height: number,
  resolution: number,
  sizeMultiple: number
): [number, number] {
  if (width === height) return [resolution, resolution]

  const shorter = Math.min(width, height)
  const longer = Math.max(width, height)
  const snapped = Math.round((resolution * shorter) / longer / sizeMultiple) * sizeMultiple
  const shortSide = Math.max(sizeMultiple, snapped)
  return width > height ? [resolution, shortSide] : [shortSide, resolution]
}

function assertOptions(resolution: number, contextFraction: number, sizeMultiple: number): void {
  if (
    !Number.isInteger(sizeMultiple) ||
    sizeMultiple < 8 ||
    sizeMultiple % VAE_SCALE_FACTOR !== 0
  ) {
    throw new RangeError(`sizeMultiple must be a positive multiple of 8, got ${sizeMultiple}`)
  }
  if (
    !Number.isInteger(resolution) ||
    resolution < sizeMultiple ||
    resolution % sizeMultiple !== 0
  ) {
    throw new RangeError(
      `resolution must be a positive multiple of ${sizeMultiple}, got ${resolution}`
    )
  }
  if (!Number.isFinite(contextFraction) || contextFraction < 0) {
    throw new RangeError(`contextFraction must be a finite number ≥ 0, got ${contextFraction}`)
  }
}

function assertBoxInImage(
  box: PixelBox,
  imageSize: { readonly width: number; readonly height: number }
): void {
  const [x0, y0, x1, y1] = box
  const inside =
    box.every(Number.isInteger) &&
    x0 >= 0 &&
    y0 >= 0 &&
    x1 <= imageSize.width &&
    y1 <= imageSize.height &&
    x0 < x1 &&
    y0 < y1
  if (!inside) {
    throw new RangeError(
      `mask box [${box.join(', ')}] must be non-empty and inside the ` +
        `${imageSize.width}×${imageSize.height} image`
    )
  }
}
