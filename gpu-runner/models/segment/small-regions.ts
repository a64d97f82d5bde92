/**
 * Removal of small islands and holes from binary masks, with the semantics of
 * `remove_small_regions` in segment-anything `segment_anything/utils/amg.py`.
 *
 * Components are 8-connected. In `holes` mode, every component of the outside smaller than the
 * area is filled, so a small piece of background cut off at the image border counts as a hole
 * too. In `islands` mode, every component of the inside smaller than the area is cleared,
 * unless all of them are small. Then the largest stays.
 */
import type { BinaryMask } from './mask-ops.ts'

/** Kind of component `removeSmallRegions` edits: outside pixels (holes) or inside (islands). */
export type SmallRegionMode = 'holes' | 'islands'

/** Result of one pass: the new mask data and whether any pixel changed. */
export interface SmallRegionResult {
  readonly data: Uint8Array
  readonly changed: boolean
}

/**
 * Fills holes or clears islands smaller than `minArea` pixels.
 *
 * @returns the input array itself when nothing changed, otherwise a new array.
 */
export function removeSmallRegions(
  mask: BinaryMask,
  minArea: number,
  mode: SmallRegionMode
): SmallRegionResult {
  const target = mode === 'holes' ? 0 : 1
  const { labels, sizes } = labelComponents(mask, target)
  const small = sizes.map((size) => size < minArea)
  if (!small.includes(true)) return { data: mask.data, changed: false }

  const keepLabel = mode === 'islands' && small.every(Boolean) ? indexOfLargest(sizes) : -1
  const data = new Uint8Array(mask.data)
  for (let i = 0; i < data.length; i++) {
    const label = labels[i] ?? -1
    if (label < 0 || label === keepLabel || !small[label]) continue
    data[i] = 1 - target
  }
  return { data, changed: true }
}

function indexOfLargest(values: readonly number[]): number {
  let best = 0
  for (let i = 1; i < values.length; i++) {
    if ((values[i] ?? 0) > (values[best] ?? 0)) best = i
  }
  return best
}

/**
 * Labels the 8-connected components of the pixels equal to `target`; other pixels get -1.
 * Components are numbered in raster order of their first pixel.
 */
export function labelComponents(
  mask: BinaryMask,
  target: number
): { labels: Int32Array; sizes: number[] } {
  const { data, width, height } = mask
  const labels = new Int32Array(data.length).fill(-1)
  const sizes: number[] = []
  const stack = new Int32Array(data.length)

  for (let start = 0; start < data.length; start++) {
    if (data[start] !== target || labels[start] !== -1) continue
    const label = sizes.length
    let size = 0
    let top = 0
    stack[top++] = start
    labels[start] = label
    while (top > 0) {
      const index = stack[--top] ?? 0
      size++
      const x = index % width
      const y = (index - x) / width
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy
        if (ny < 0 || ny >= height) continue
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx
          if (nx < 0 || nx >= width) continue
          const neighbour = ny * width + nx
          if (data[neighbour] !== target || labels[neighbour] !== -1) continue
          labels[neighbour] = label
          stack[top++] = neighbour
        }
      }
    }
    sizes.push(size)
  }
  return { labels, sizes }
}
