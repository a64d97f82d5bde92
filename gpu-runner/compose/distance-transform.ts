/**
 * Exact Euclidean distance transform over a region of a mask, bounded by a cap.
 *
 * The algorithm is the two-pass method of Felzenszwalb and Huttenlocher, "Distance Transforms
 * of Sampled Functions", Theory of Computing 8 (2012). A 1-D pass down each column gives the
 * vertical distance g to the nearest source pixel in that column. A 1-D pass along each row
 * then takes the lower envelope of the parabolas (x − q)² + g(q)². Both passes are O(pixels)
 * whatever the cap, so a radius of 256 costs about what a radius of 1 costs.
 */
import type { GrayMask } from '../image/types.ts'
import type { PixelBox } from '../pipeline/types.ts'

/**
 * Side of the 128 threshold that contains the source pixels: 'inside' for bytes of 128 and above,
 * 'outside' for bytes below. 128 is the byte's high bit, which the column pass reads directly.
 */
export type SourceSide = 'inside' | 'outside'

/** Vertical distances to the nearest source, counted up to the cap: 8 bits when it fits. */
type VerticalDistances = Uint8Array | Uint16Array

/** Largest cap accepted; vertical distances then fit in 16 bits. */
export const MAX_DISTANCE_CAP = 2 ** 14

/** Region, sources, cap and output of one {@link mapSquaredDistances} call. */
export interface DistanceMapping {
  /** Region of the mask to transform; only sources inside it count. */
  readonly region: PixelBox
  readonly sources: SourceSide
  /** Distance in pixels, an integer in [1, 16384], from which all distances count as equal. */
  readonly cap: number
  /** Byte to write for each squared distance in [0, cap²]; length cap² + 1. */
  readonly byteOfSquared: Uint8Array
  /** Output raster of the mask's size; only the region's pixels are written. */
  readonly target: Uint8Array
}

/**
 * Computes, for every pixel of a region, the squared distance d² to the nearest source pixel,
 * and writes `byteOfSquared[d²]` to the same pixel of `target`.
 *
 * Distances run between pixel centres. A squared distance of at least `cap²` counts as `cap²`,
 * which keeps the column pass cheap: vertical runs stop counting at `cap`. A region without
 * sources maps every pixel to `byteOfSquared[cap²]`. Mapping through a table inside the row
 * pass avoids storing the distances at all.
 */
export function mapSquaredDistances(mask: GrayMask, mapping: DistanceMapping): void {
  const { region, sources, cap, byteOfSquared, target } = mapping
  assertRegion(mask, region)
  if (!Number.isInteger(cap) || cap < 1 || cap > MAX_DISTANCE_CAP) {
    throw new RangeError(`cap must be an integer in [1, ${MAX_DISTANCE_CAP}], got ${cap}`)
  }
  if (byteOfSquared.length !== cap * cap + 1) {
    throw new RangeError(`byteOfSquared has ${byteOfSquared.length} entries, expected cap² + 1`)
  }
  if (target.length !== mask.data.length) {
    throw new RangeError(`target has ${target.length} bytes, expected ${mask.data.length}`)
  }

  const fromAbove = distancesFromAbove(mask, region, sources, cap)
  rowEnvelopes(fromAbove, mask.width, mapping)
}

/**
 * Writes the distance from each pixel to the nearest source at or above it in its column,
 * counting up to cap; 0 marks a source.
 */
function distancesFromAbove(
  mask: GrayMask,
  region: PixelBox,
  sources: SourceSide,
  cap: number
): VerticalDistances {
  const [x0, y0, x1, y1] = region
  const width = x1 - x0
  const height = y1 - y0
  const flip = sources === 'inside' ? 0 : 1
  const data = mask.data
  // One byte per pixel when the cap fits, which halves the memory traffic of both passes.
  const g = cap <= 255 ? new Uint8Array(width * height) : new Uint16Array(width * height)

  const first = y0 * mask.width + x0
  for (let x = 0; x < width; x++) g[x] = ((data[first + x]! >> 7) ^ flip) === 1 ? 0 : cap
  for (let y = 1; y < height; y++) {
    const src = (y0 + y) * mask.width + x0
    const row = y * width
    for (let x = 0; x < width; x++) {
      if (((data[src + x]! >> 7) ^ flip) === 1) continue
      const above = g[row - width + x]! + 1
      g[row + x] = Math.min(above, cap)
    }
  }
  return g
}

/** Lower envelope of parabolas along one row; see buildEnvelope. */
interface Envelope {
  /** Root column of each parabola. */
  readonly rootAt: Int32Array
  /** g² at each root. */
  readonly rootValue: Float64Array
  /** Parabola k is the lowest on (boundary[k], boundary[k + 1]]. */
  readonly boundary: Float64Array
}

/**
 * Completes the column pass from below, one row at a time from the bottom, then maps each row
 * while it is still in cache: g = min(distance from above, distance from below).
 */
function rowEnvelopes(
  fromAbove: VerticalDistances,
  maskWidth: number,
  mapping: DistanceMapping
): void {
  const { region, cap } = mapping
  const [x0, y0, x1, y1] = region
  const width = x1 - x0
  const envelope: Envelope = {
    rootAt: new Int32Array(width),
    rootValue: new Float64Array(width),
    boundary: new Float64Array(width + 1),
  }
  const fromBelow = new Uint16Array(width).fill(cap)

  for (let y = y1 - y0 - 1; y >= 0; y--) {
    const g = fromAbove.subarray(y * width, (y + 1) * width)
    for (let x = 0; x < width; x++) {
      const above = g[x]!
      const below = above === 0 ? 0 : Math.min(fromBelow[x]! + 1, cap)
      fromBelow[x] = below
      if (below < above) g[x] = below
    }
    mapRow(g, envelope, mapping, (y0 + y) * maskWidth + x0)
  }
}

/**
 * Maps one row, writing `width` bytes of the target from index `out`.
 *
 * Runs of sources, and runs of pixels at least cap away from every source, are written with
 * `fill`. Only the pixels near a source evaluate the envelope.
 */
function mapRow(
  gRow: VerticalDistances,
  envelope: Envelope,
  mapping: DistanceMapping,
  out: number
): void {
  const { cap, byteOfSquared, target } = mapping
  const width = gRow.length
  const capSquared = cap * cap
  const count = buildEnvelope(gRow, cap, envelope)
  if (count === 0) {
    target.fill(byteOfSquared[capSquared]!, out, out + width)
    return
  }

  const { rootAt, rootValue, boundary } = envelope
  let k = 0
  const evaluate = (from: number, to: number): void => {
    for (let x = from; x < to; x++) {
      while (boundary[k + 1]! < x) k++
      const q = rootAt[k]!
      const d = (x - q) * (x - q) + rootValue[k]!
      target[out + x] = byteOfSquared[d < capSquared ? d : capSquared]!
    }
  }

  let x = 0
  while (x < width) {
    const v = gRow[x]!
    if (v > 0 && v < cap) {
      evaluate(x, x + 1)
      x++
      continue
    }

    let end = x + 1
    if (v === 0) {
      // Sources, including the inner ones that buildEnvelope leaves out.
      while (end < width && gRow[end] === 0) end++
      target.fill(byteOfSquared[0]!, out + x, out + end)
      x = end
      continue
    }

    // A run with no source within cap in its columns. Its pixels that lie at least cap from
    // the finite entries just outside the run are at least cap from every source.
    while (end < width && gRow[end]! >= cap) end++
    const farFrom = x > 0 ? Math.min(end, x - 1 + cap) : x
    const farTo = end < width ? Math.max(farFrom, end - cap + 1) : end
    evaluate(x, farFrom)
    target.fill(byteOfSquared[capSquared]!, out + farFrom, out + farTo)
    evaluate(farTo, end)
    x = end
  }
}

/**
 * Builds the lower envelope of the parabolas (x − q)² + g(q)² of one row.
 *
 * Two kinds of entries are left out. Entries at or above cap have no source within cap in
 * their column, so their parabolas never fall below cap² and cannot change a clamped result.
 * Zeros with a zero on both sides are the inside of a run of sources: for a pixel outside the
 * run, one of the run's ends is nearer, and a pixel inside the run is a source itself, which
 * mapRow writes without the envelope. Skipping them keeps large filled areas cheap.
 *
 * @returns The number of parabolas; 0 when no entry is below cap.
 */
function buildEnvelope(gRow: VerticalDistances, cap: number, envelope: Envelope): number {
  const { rootAt, rootValue, boundary } = envelope
  const width = gRow.length
  let count = 0
  for (let q = 0; q < width; q++) {
    const v = gRow[q]!
    if (v >= cap) continue
    if (v === 0 && q > 0 && q < width - 1 && gRow[q - 1] === 0 && gRow[q + 1] === 0) continue
    const fq = v * v
    if (count === 0) {
      rootAt[0] = q
      rootValue[0] = fq
      boundary[0] = -Infinity
      boundary[1] = Infinity
      count = 1
      continue
    }

    // Intersection of parabola q with the top parabola of the envelope; pop the top while the
    // intersection lies left of where it begins. boundary[0] is -Infinity, so one always stays.
    let s = 0
    for (;;) {
      const p = rootAt[count - 1]!
      s = (fq + q * q - (rootValue[count - 1]! + p * p)) / (2 * (q - p))
      if (s > boundary[count - 1]!) break
      count--
    }
    rootAt[count] = q
    rootValue[count] = fq
    boundary[count] = s
    boundary[count + 1] = Infinity
    count++
  }
  return count
}

function assertRegion(mask: GrayMask, region: PixelBox): void {
  const [x0, y0, x1, y1] = region
  const valid =
    region.every(Number.isInteger) &&
    x0 >= 0 &&
    y0 >= 0 &&
    x0 < x1 &&
    y0 < y1 &&
    x1 <= mask.width &&
    y1 <= mask.height
  if (!valid) {
    throw new RangeError(
      `region [${region.join(', ')}] must be non-empty and inside the ` +
        `${mask.width}×${mask.height} mask`
    )
  }
}
