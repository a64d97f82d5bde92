/**
 * Greedy non-maximum suppression over boxes, the duplicate filter of SAM's automatic mask
 * generator (`batched_nms` with one category).
 */
import type { PixelBox } from '../../pipeline/types.ts'

/** Computes the IoU of two boxes `[x0, y0, x1, y1]` with exclusive x1 and y1. */
export function computeBoxIou(a: PixelBox, b: PixelBox): number {
  const width = Math.min(a[2], b[2]) - Math.max(a[0], b[0])
  const height = Math.min(a[3], b[3]) - Math.max(a[1], b[1])
  if (width <= 0 || height <= 0) return 0

  const intersection = width * height
  const union = boxArea(a) + boxArea(b) - intersection
  return union <= 0 ? 0 : intersection / union
}

function boxArea(box: PixelBox): number {
  return Math.max(box[2] - box[0], 0) * Math.max(box[3] - box[1], 0)
}

/**
 * Selects boxes greedily by descending score, dropping each box whose IoU with an already kept
 * box is above `iouThreshold`. Equal scores keep input order, so the result is deterministic.
 *
 * @returns indices of the kept boxes, highest score first.
 */
export function selectByNms(
  boxes: readonly PixelBox[],
  scores: readonly number[],
  iouThreshold: number
): number[] {
  if (boxes.length !== scores.length) {
    throw new RangeError(`NMS got ${boxes.length} boxes but ${scores.length} scores.`)
  }

  const order = boxes.map((_, i) => i).sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0) || a - b)
  const keptIndices: number[] = []
  for (const index of order) {
    const box = boxes[index] as PixelBox
    const overlaps = keptIndices.some(
      (k) => computeBoxIou(boxes[k] as PixelBox, box) > iouThreshold
    )
    if (!overlaps) keptIndices.push(index)
  }
  return keptIndices
}
