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
  const kept = selectByNms(
    ranked.map((r) => r.mask.proposal.bbox),
    ranked.map((_, position) => ranked.length - position),
    options.boxNmsThreshold
  )

  return kept
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

  // 3. Upright mask
  const upright = { width: sam.originalWidth, height: sam.originalHeight }
  const data = working.isUpright
    ? islands.data
    : uprightMask({ logits, before: mask.data, after: islands.data, working, upright, options })
  const area = countMaskArea(data)
  const bbox = computeMaskBox({ data, ...upright })
  if (bbox === null || area < minRegionArea(upright, options.minRegionAreaFraction)) return null

  // 4. Box crop
  const proposal: MaskProposal = {
    bbox,
    boxMask: cropToBox(data, upright.width, bbox),
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

function uprightMask(args: {
  logits: Float32Array
  before: Uint8Array
  after: Uint8Array
  working: WorkingFrame
  upright: { width: number; height: number }
  options: FinalizeOptions
}): Uint8Array {
  const { logits, before, after, working, upright, options } = args
  let patched = logits
  if (before !== after) {
    patched = new Float32Array(logits)
    for (let i = 0; i < patched.length; i++) {
      if (before[i] === after[i]) continue
      patched[i] = options.maskThreshold + (after[i] === 1 ? CLEANED_LOGIT : -CLEANED_LOGIT)
    }
  }
  return thresholdLogits(resizeLogitsBilinear(patched, working, upright), options.maskThreshold)
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
