/**
 * Last stage of automatic mask generation: masks at the upright image size, small islands and
 * holes removed, a second NMS, and the crop to each mask's box.
 */
import type { PixelBox } from '../../pipeline/types.ts'
import type { AutoMaskOptions } from './auto-mask-options.ts'
import type { MaskProposal } from './proposal.ts'
import { computeMaskBox, countMaskArea, resizeLogitsBilinear, thresholdLogits } from './mask-ops.ts'
import { selectByNms } from './nms.ts'
import type { MaskCandidate } from './sampling.ts'
import type { SamFrame } from './sam-preprocess.ts'
import { removeSmallRegions } from './small-regions.ts'

interface CleanedMask {
  readonly proposal: MaskProposal
  /** No island or hole had to be removed. */
  readonly unchanged: boolean
}

/**
 * Turns deduplicated candidates into proposals at the upright size, largest first.
 *
 * Masks changed by the clean-up rank below unchanged ones in the second NMS, as in the
 * reference `postprocess_small_regions`; predicted IoU orders masks within each group.
 */
export function finalizeProposals(
  candidates: readonly MaskCandidate[],
  frame: SamFrame,
  options: Pick<AutoMaskOptions, 'minRegionAreaFraction' | 'boxNmsThreshold'> & {
    maskThreshold: number
  }
): MaskProposal[] {
  const imageArea = frame.originalWidth * frame.originalHeight
  const minArea = Math.max(1, Math.round(imageArea * options.minRegionAreaFraction))
  const cleaned = candidates
    .map((candidate) =>
      cleanCandidate(candidate, frame, { minArea, maskThreshold: options.maskThreshold })
    )
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
  frame: SamFrame,
  options: { minArea: number; maskThreshold: number }
): CleanedMask | null {
  const { minArea, maskThreshold } = options
  const width = frame.originalWidth
  const height = frame.originalHeight
  const upright =
    candidate.width === width && candidate.height === height
      ? candidate.mask
      : thresholdLogits(
          resizeLogitsBilinear(candidate.logits, candidate, { width, height }),
          maskThreshold
        )

  const holes = removeSmallRegions({ data: upright, width, height }, minArea, 'holes')
  const islands = removeSmallRegions({ data: holes.data, width, height }, minArea, 'islands')
  const data = islands.data
  const area = countMaskArea(data)
  const bbox = computeMaskBox({ data, width, height })
  if (bbox === null || area < minArea) return null

  const proposal: MaskProposal = {
    bbox,
    boxMask: cropToBox(data, width, bbox),
    area,
    predictedIou: candidate.predictedIou,
    stabilityScore: candidate.stabilityScore,
    point: candidate.point,
  }
  return { proposal, unchanged: !holes.changed && !islands.changed }
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
