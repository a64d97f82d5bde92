/**
 * Mask growth and feathering for compositing.
 *
 * An entity mask M (a pixel belongs to it when its byte is at least MASK_THRESHOLD) grows into
 * G = { p : |p − q| ≤ growPx for some q in M }: dilation by a disc of radius growPx, measured
 * between pixel centres. G is what the inpainting model regenerates.
 *
 * The blend alpha is a linear ramp inside G, never outside it:
 * alpha(p) = min(1, d(p) / featherPx), where d(p) is the Euclidean distance from p to the
 * nearest image pixel outside G; featherPx = 0 gives alpha 1 on all of G. Every pixel outside
 * G has d = 0, so alpha 0, and stays byte-identical after compositing. The pixels of G next to
 * its edge have d = 1. A pixel of M is more than growPx from any pixel outside G, so with
 * featherPx ≤ growPx the whole entity has alpha 1 and is fully replaced. The image border is
 * not an edge: G pixels on the border ramp only toward real pixels outside G.
 *
 * Both steps are exact distance transforms restricted to the mask's bounding box plus the
 * radius, so their cost follows the entity's size, not the photo's.
 */
import type { GrayMask } from '../image/types.ts'
import type { PixelBox } from '../pipeline/types.ts'
import { maskBounds } from './bounds.ts'
import { mapSquaredDistances } from './distance-transform.ts'

/** Byte value from which a mask pixel counts as part of the entity: 0.5 on a [0, 1] scale. */
export const MASK_THRESHOLD = 128

/** Byte value of a pixel inside a binary mask, and of full alpha. */
export const MASK_ON = 255

/**
 * Largest growth or feather radius accepted, in pixels, well above the public API's limits.
 * The lookup table of a radius r has (r + 1)² entries, so this bounds it to about 1 MB.
 */
export const MAX_RADIUS_PX = 1024

/** The masks that one edit composites with. */
export interface BlendMasks {
  /** Grown entity mask, 0 or 255, the image's size. */
  readonly grown: GrayMask
  /** Blend alpha 0–255, non-zero only inside `grown`. */
  readonly alpha: GrayMask
  /** Bounding box of `grown`; undefined when the entity mask is empty. */
  readonly grownBox: PixelBox | undefined
}

/**
 * Grows a mask by a disc of radius `radiusPx` and binarises it to 0 or 255.
 *
 * @param radiusPx Integer in [0, MAX_RADIUS_PX]; 0 only binarises.
 * @param maskBox The mask's bounds, or any box inside the image that contains them, when the
 *   caller already has one; it saves a scan of the whole mask.
 */
export function growMask(
  mask: GrayMask,
  radiusPx: number,
  maskBox: PixelBox | undefined = maskBounds(mask)
): GrayMask {
  assertMaskSize(mask)
  assertRadius('radiusPx', radiusPx)

  const { width, height } = mask
  const grown = new Uint8Array(width * height)
  if (maskBox === undefined) return { data: grown, width, height }

  const region = expandBox(maskBox, radiusPx, width, height)
  const cap = radiusPx + 1
  const inside = new Uint8Array(cap * cap + 1).fill(MASK_ON, 0, radiusPx * radiusPx + 1)
  mapSquaredDistances(mask, {
    region,
    sources: 'inside',
    cap,
    byteOfSquared: inside,
    target: grown,
  })
  return { data: grown, width, height }
}

/**
 * Computes the blend alpha of a grown mask: a linear ramp `featherPx` wide inside its edge.
 *
 * @param featherPx Integer in [0, MAX_RADIUS_PX]; 0 gives a hard edge (alpha 255 on the whole mask).
 * @param grownBox The grown mask's bounds, or any box inside the image that contains them.
 */
export function featherMask(
  grown: GrayMask,
  featherPx: number,
  grownBox: PixelBox | undefined = maskBounds(grown)
): GrayMask {
  assertMaskSize(grown)
  assertRadius('featherPx', featherPx)

  const { width, height } = grown
  const alpha = new Uint8Array(width * height)
  if (grownBox === undefined) return { data: alpha, width, height }

  // One extra pixel on each side: the nearest pixel outside G is either inside G's box or on
  // this ring, because projecting any farther pixel onto the ring only brings it closer.
  const region = expandBox(grownBox, 1, width, height)
  // Alpha saturates at d = featherPx, so farther distances all map to 255.
  const cap = Math.max(1, featherPx)
  const ramp = alphaRamp(featherPx, cap * cap)
  mapSquaredDistances(grown, {
    region,
    sources: 'outside',
    cap,
    byteOfSquared: ramp,
    target: alpha,
  })
  return { data: alpha, width, height }
}

/**
 * Grows an entity mask and computes its blend alpha, scanning the full mask only once.
 *
 * @example
 * const { grown, alpha, grownBox } = growAndFeather(entityMask, { growPx: 8, featherPx: 8 })
 */
export function growAndFeather(
  mask: GrayMask,
  { growPx, featherPx }: { growPx: number; featherPx: number }
): BlendMasks {
  const maskBox = maskBounds(mask)
  const grown = growMask(mask, growPx, maskBox)
  const grownBox =
    maskBox === undefined ? undefined : expandBox(maskBox, growPx, mask.width, mask.height)
  const alpha = featherMask(grown, featherPx, grownBox)
  return { grown, alpha, grownBox }
}

/**
 * Expands a box by `margin` pixels on every side, clamped to the image.
 *
 * For a disc dilation this is exactly the grown mask's bounding box: the extreme pixels of the
 * mask reach `margin` further along each axis.
 */
export function expandBox(box: PixelBox, margin: number, width: number, height: number): PixelBox {
  return [
    Math.max(0, box[0] - margin),
    Math.max(0, box[1] - margin),
    Math.min(width, box[2] + margin),
    Math.min(height, box[3] + margin),
  ]
}

/** Alpha byte for each squared distance d² in [0, capSquared]: 255 × min(1, d / featherPx). */
function alphaRamp(featherPx: number, capSquared: number): Uint8Array {
  const ramp = new Uint8Array(capSquared + 1)
  for (let d2 = 1; d2 <= capSquared; d2++) {
    const t = featherPx === 0 ? 1 : Math.sqrt(d2) / featherPx
    ramp[d2] = Math.round(MASK_ON * Math.min(1, t))
  }
  return ramp
}

function assertMaskSize(mask: GrayMask): void {
  const { data, width, height } = mask
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`mask size must be positive integers, got ${width}×${height}`)
  }
  if (data.length !== width * height) {
    throw new RangeError(`mask has ${data.length} bytes, expected ${width}×${height}`)
  }
}

function assertRadius(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_RADIUS_PX) {
    throw new RangeError(`${name} must be an integer in [0, ${MAX_RADIUS_PX}], got ${value}`)
  }
}
