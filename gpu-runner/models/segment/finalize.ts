/**
 * Last stage of automatic mask generation: small islands and holes removed, masks brought to
 * the upright image size, a second NMS, and the crop to each mask's box.
 *
 * The clean-up runs in the working frame (see sampling.ts). For a photo larger than the
 * resized frame, the removed islands and filled holes are written back into the working-frame
 * logits as clear negatives and positives before upsampling. Bilinear weights are convex and
 * a 2 × 2 stencil never spans two 8-connected components, so removed islands stay removed and
 * filled holes stay filled at the upright size.
 */
import type { PixelBox } from '../../pipeline/types.ts'
import type { AutoMaskOptions } from './auto-mask-options.ts'
import { computeMaskBox, countMaskArea, resizeLogitsBilinear, thresholdLogits } from './mask-ops.ts'
import { selectByNms } from './nms.ts'
import type { MaskProposal } from './proposal.ts'
import { upsampleLowResLogits } from './sam-decoder.ts'
import type { SamFrame } from './sam-preprocess.ts'
import type { MaskCandidate, WorkingFrame } from './sampling.ts'
import { removeSmallRegions } from './small-regions.ts'

// Logit written over a removed island or a filled hole; any magnitude above the logits' own
// interpolation error would do.
const CLEANED_LOGIT = 32

interface CleanedMask {
  readonly proposal: MaskProposal
  /** No island or hole had to be removed. */
  readonly unchanged: boolean
}

/** Settings `finalizeProposals` reads. */
export type FinalizeOptions = Pick<AutoMaskOptions, 'minRegionAreaFraction' | 'boxNmsThreshold'> & {
  readonly maskThreshold: number
}

/**
 * Turns deduplicated candidates into proposals at the upright size, largest first.
 *
 * Masks changed by the clean-up rank below unchanged ones in the second NMS, as in the
 * reference `postprocess_small_regions`; predicted IoU orders masks within each group.
 */
export function finalizeProposals(
  candidates: readonly MaskCandidate[],
  frames: { readonly sam: SamFrame; readonly working: WorkingFrame },
  options: FinalizeOptions
): MaskProposal[] {
  const cleaned = candidates
    .map((candidate) => cleanCandidate(candidate, frames, options))
    .filter((mask): mask is CleanedMask => mask !== null)

  const ranked = cleaned
    .map((mask, index) => ({ mask, index }))
    .sort(
      (a, b) =>
        Number(b.mask.unchanged) - Number(a.mask.unchanged) ||
        b.mask.proposal.predictedIou - a.mask.proposal.predictedIou ||
        a.index - b.index
    )
  const keptPositions = selectByNms(
    ranked.map((r) => r.mask.proposal.bbox),
    ranked.map((_, position) => ranked.length - position),
    options.boxNmsThreshold
  )

  return keptPositions
    .map((position) => (ranked[position] as (typeof ranked)[number]).mask.proposal)
    .sort((a, b) => b.area - a.area || compareBoxes(a.bbox, b.bbox))
}

function compareBoxes(a: PixelBox, b: PixelBox): number {
  return a[1] - b[1] || a[0] - b[0] || a[3] - b[3] || a[2] - b[2]
}

function cleanCandidate(
  candidate: MaskCandidate,
  frames: { readonly sam: SamFrame; readonly working: WorkingFrame },
  options: FinalizeOptions
): CleanedMask | null {
  // 1. Working-frame logits and mask, as the decoder graph produced them
  const { sam, working } = frames
  const logits = upsampleLowResLogits(candidate.lowResLogits, sam, working)
  const mask = { data: thresholdLogits(logits, options.maskThreshold), ...size(working) }

  // 2. Small holes, then small islands, as the reference orders them
  const workingMinArea = minRegionArea(working, options.minRegionAreaFraction)
  const holes = removeSmallRegions(mask, workingMinArea, 'holes')
  const islands = removeSmallRegions({ ...mask, data: holes.data }, workingMinArea, 'islands')
  const unchanged = !holes.changed && !islands.changed

  // 3. Upright mask, computed only in a window around the cleaned mask
  const upright = { width: sam.originalWidth, height: sam.originalHeight }
  const window = working.isUpright
    ? { x: 0, y: 0, ...upright, data: islands.data }
    : uprightWindow({ logits, before: mask.data, after: islands.data, working, upright, options })
  const area = countMaskArea(window.data)
  const windowBox = computeMaskBox(window)
  if (windowBox === null || area < minRegionArea(upright, options.minRegionAreaFraction)) {
    return null
  }

  // 4. Box crop
  const proposal: MaskProposal = {
    bbox: [
      windowBox[0] + window.x,
      windowBox[1] + window.y,
      windowBox[2] + window.x,
      windowBox[3] + window.y,
    ],
    boxMask: cropToBox(window.data, window.width, windowBox),
    area,
    predictedIou: candidate.predictedIou,
    stabilityScore: candidate.stabilityScore,
    point: candidate.point,
  }
  return { proposal, unchanged }
}

function size(frame: { width: number; height: number }): { width: number; height: number } {
  return { width: frame.width, height: frame.height }
}

function minRegionArea(frame: { width: number; height: number }, fraction: number): number {
  return Math.max(1, Math.round(frame.width * frame.height * fraction))
}

/** Part of the upright mask: `data` is `width` × `height` with its origin at (`x`, `y`). */
interface MaskWindow {
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
  readonly data: Uint8Array
}

/**
 * Upsamples the cleaned working-frame mask to the upright size inside a window around it.
 *
 * Every working pixel outside the cleaned mask has a logit at or below the threshold (removed
 * islands are patched below it), and a bilinear tap reaches one pixel out. So an upright pixel
 * more than two working pixels outside the mask's box is outside the mask.
 */
function uprightWindow(args: {
  logits: Float32Array
  before: Uint8Array
  after: Uint8Array
  working: WorkingFrame
  upright: { width: number; height: number }
  options: FinalizeOptions
}): MaskWindow {
  const { logits, before, after, working, upright, options } = args
  let patched = logits
  if (before !== after) {
    patched = new Float32Array(logits)
    for (let i = 0; i < patched.length; i++) {
      if (before[i] === after[i]) continue
      patched[i] = options.maskThreshold + (after[i] === 1 ? CLEANED_LOGIT : -CLEANED_LOGIT)
    }
  }

  const box = computeMaskBox({ data: after, ...size(working) })
  if (box === null) return { x: 0, y: 0, width: 0, height: 0, data: new Uint8Array(0) }
  const scaleX = upright.width / working.width
  const scaleY = upright.height / working.height
  const x = Math.max(0, Math.floor((box[0] - 2) * scaleX))
  const y = Math.max(0, Math.floor((box[1] - 2) * scaleY))
  const width = Math.min(upright.width, Math.ceil((box[2] + 2) * scaleX)) - x
  const height = Math.min(upright.height, Math.ceil((box[3] + 2) * scaleY)) - y
  const resized = resizeLogitsBilinear(patched, working, upright, { x, y, width, height })
  return { x, y, width, height, data: thresholdLogits(resized, options.maskThreshold) }
}

function cropToBox(mask: Uint8Array, width: number, box: PixelBox): Uint8Array {
  const [x0, y0, x1, y1] = box
  const boxWidth = x1 - x0
  const out = new Uint8Array(boxWidth * (y1 - y0))
  for (let y = y0; y < y1; y++) {
    const rowIn = y * width
    const rowOut = (y - y0) * boxWidth
    for (let x = x0; x < x1; x++) out[rowOut + x - x0] = mask[rowIn + x] === 1 ? 255 : 0
  }
  return out
}
