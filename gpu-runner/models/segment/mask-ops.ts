/**
 * Operations on mask logits and binary masks (one byte per pixel, 1 inside, 0 outside).
 */
import type { PixelBox } from '../../pipeline/types.ts'

/** Binary mask, row-major, 1 inside and 0 outside. */
export interface BinaryMask {
  readonly data: Uint8Array
  readonly width: number
  readonly height: number
}

/** Thresholds logits: a pixel is inside when its logit is above `threshold`. */
export function thresholdLogits(logits: Float32Array, threshold: number): Uint8Array {
  const mask = new Uint8Array(logits.length)
  for (let i = 0; i < logits.length; i++) {
    mask[i] = (logits[i] ?? 0) > threshold ? 1 : 0
  }
  return mask
}

/**
 * Computes SAM's stability score: the IoU of the masks cut at `threshold + offset` and at
 * `threshold - offset`. The first mask lies inside the second, so the IoU is the ratio of their
 * areas. Returns 0 when both are empty (the reference returns NaN there, which fails every
 * threshold the same way).
 *
 * Source: `calculate_stability_score` in segment-anything `segment_anything/utils/amg.py`.
 */
export function computeStabilityScore(
  logits: Float32Array,
  threshold: number,
  offset: number
): number {
  const high = threshold + offset
  const low = threshold - offset
  let intersection = 0
  let union = 0
  for (let i = 0; i < logits.length; i++) {
    const value = logits[i] ?? 0
    if (value > low) {
      union++
      if (value > high) intersection++
    }
  }
  return union === 0 ? 0 : intersection / union
}

/** Stability score, box and area of one mask, read from its logits. */
export interface LogitMaskStats {
  readonly stabilityScore: number
  /** Box of the pixels above the threshold, x1 and y1 exclusive; null when there are none. */
  readonly box: PixelBox | null
  readonly area: number
}

/**
 * Computes `computeStabilityScore`, `computeMaskBox` and the area of the thresholded logits in
 * one pass, for the per-prompt filters.
 */
export function measureLogitMask(
  logits: Float32Array,
  width: number,
  options: { threshold: number; offset: number }
): LogitMaskStats {
  const { threshold, offset } = options
  const high = threshold + offset
  const low = threshold - offset
  const height = logits.length / width

  let intersection = 0
  let union = 0
  let area = 0
  let x0 = width
  let y0 = height
  let x1 = -1
  let y1 = -1
  for (let y = 0; y < height; y++) {
    const row = y * width
    for (let x = 0; x < width; x++) {
      const value = logits[row + x] ?? 0
      if (!(value > low)) continue
      union++
      if (value > high) intersection++
      if (!(value > threshold)) continue
      area++
      if (x < x0) x0 = x
      if (x > x1) x1 = x
      if (y0 === height) y0 = y
      y1 = y
    }
  }

  return {
    stabilityScore: union === 0 ? 0 : intersection / union,
    box: area === 0 ? null : [x0, y0, x1 + 1, y1 + 1],
    area,
  }
}

/** Counts the pixels inside a mask. */
export function countMaskArea(mask: Uint8Array): number {
  let area = 0
  for (let i = 0; i < mask.length; i++) area += mask[i] ?? 0
  return area
}

/** Computes the box `[x0, y0, x1, y1]` (x1, y1 exclusive) around a mask, or null when empty. */
export function computeMaskBox(mask: BinaryMask): PixelBox | null {
  const { data, width, height } = mask
  let x0 = width
  let y0 = height
  let x1 = -1
  let y1 = -1
  for (let y = 0; y < height; y++) {
    const row = y * width
    let first = -1
    let last = -1
    for (let x = 0; x < width; x++) {
      if (data[row + x] === 0) continue
      if (first < 0) first = x
      last = x
    }
    if (first < 0) continue
    if (y0 === height) y0 = y
    y1 = y
    if (first < x0) x0 = first
    if (last > x1) x1 = last
  }
  return y1 < 0 ? null : [x0, y0, x1 + 1, y1 + 1]
}

/**
 * Resizes a logit map with bilinear interpolation on pixel centres and edge clamping, the
 * semantics of PyTorch `F.interpolate(mode='bilinear', align_corners=False)` and ONNX `Resize`
 * with `half_pixel` coordinates that the SAM decoder graph uses to upsample its masks.
 *
 * @param crop Window of the `to` grid to compute, at offset `x`, `y` (default 0). The result
 *   equals the same window cut from the full result. Default: the whole grid.
 */
export function resizeLogitsBilinear(
  logits: Float32Array,
  from: { width: number; height: number },
  to: { width: number; height: number },
  crop: { x?: number; y?: number; width: number; height: number } = to
): Float32Array {
  const { x: cropX = 0, y: cropY = 0 } = crop
  const xTaps = computeLinearTaps(from.width, to.width)
  const yTaps = computeLinearTaps(from.height, to.height)
  const out = new Float32Array(crop.width * crop.height)

  for (let y = 0; y < crop.height; y++) {
    const rowA = (yTaps.lower[cropY + y] ?? 0) * from.width
    const rowB = (yTaps.upper[cropY + y] ?? 0) * from.width
    const wy = yTaps.fraction[cropY + y] ?? 0
    for (let x = 0; x < crop.width; x++) {
      const xa = xTaps.lower[cropX + x] ?? 0
      const xb = xTaps.upper[cropX + x] ?? 0
      const wx = xTaps.fraction[cropX + x] ?? 0
      const top = (logits[rowA + xa] ?? 0) * (1 - wx) + (logits[rowA + xb] ?? 0) * wx
      const bottom = (logits[rowB + xa] ?? 0) * (1 - wx) + (logits[rowB + xb] ?? 0) * wx
      out[y * crop.width + x] = top * (1 - wy) + bottom * wy
    }
  }
  return out
}

function computeLinearTaps(
  inSize: number,
  outSize: number
): { lower: Int32Array; upper: Int32Array; fraction: Float32Array } {
  const scale = inSize / outSize
  const lower = new Int32Array(outSize)
  const upper = new Int32Array(outSize)
  const fraction = new Float32Array(outSize)
  for (let i = 0; i < outSize; i++) {
    const source = Math.max((i + 0.5) * scale - 0.5, 0)
    const index = Math.min(Math.floor(source), inSize - 1)
    lower[i] = index
    upper[i] = Math.min(index + 1, inSize - 1)
    fraction[i] = source - index
  }
  return { lower, upper, fraction }
}
