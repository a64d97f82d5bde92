/**
 * The semantic alignment phase: segmentation proposals for the image, each scored against the
 * entity word with CLIP, and the selected proposals merged into one entity mask.
 */
import type { GrayMask, RgbImage } from '../image/types.ts'
import { alignEntity } from '../models/align/align.ts'
import type { ScoredCandidate } from '../models/align/selection.ts'
import { generateMaskProposals, type MaskProposal } from '../models/segment/auto-masks.ts'
import type { PipelineModels } from './models.ts'
import type { EntityCandidate } from './types.ts'

/** The entity mask of one word with the scores behind the choice. */
export interface EntityMask {
  /** 255 inside the selected proposals, 0 elsewhere; the image's size. */
  readonly mask: GrayMask
  readonly selected: readonly EntityCandidate[]
  /** Every proposal with its score, best first. */
  readonly candidates: readonly EntityCandidate[]
  readonly proposalCount: number
  readonly timingsMs: Readonly<Record<string, number>>
}

/**
 * Finds the region of `image` that `entity` names.
 *
 * @throws RunnerError `entity-not-found` with the closest candidates when nothing matches well.
 */
export async function findEntityMask(
  models: PipelineModels,
  image: RgbImage,
  options: { entity: string; multiple: boolean }
): Promise<EntityMask> {
  // 1. Class-agnostic proposals from SAM's point grid
  const segmentation = await generateMaskProposals(image, models.sam)
  const { proposals } = segmentation

  // 2. CLIP similarity of each masked proposal with the entity word
  const alignment = await alignEntity({
    image,
    proposals,
    entity: options.entity,
    encoders: models.clip,
    tokenizer: models.tokenizer,
    thresholds: models.clipThresholds,
    multiple: options.multiple,
  })

  // 3. Union of the selected proposals
  const mask = unionMask(
    image,
    alignment.selected.map((candidate) => proposals[candidate.index] as MaskProposal)
  )
  return {
    mask,
    selected: alignment.selected.map(toCandidate),
    candidates: alignment.candidates.map(toCandidate),
    proposalCount: proposals.length,
    timingsMs: {
      segmentation_encoder: segmentation.timingsMs.encoder,
      segmentation_decoder: segmentation.timingsMs.decoder,
      segmentation_filtering: segmentation.timingsMs.filtering,
      alignment_text: alignment.timingsMs.text,
      alignment_images: alignment.timingsMs.images,
    },
  }
}

function unionMask(image: RgbImage, proposals: readonly MaskProposal[]): GrayMask {
  const data = new Uint8Array(image.width * image.height)

  for (const { bbox, boxMask } of proposals) {
    const [x0, y0, x1, y1] = bbox
    const boxWidth = x1 - x0
    for (let y = y0; y < y1; y++) {
      const source = (y - y0) * boxWidth
      const target = y * image.width + x0
      for (let x = 0; x < boxWidth; x++) {
        if (boxMask[source + x]! >= 128) data[target + x] = 255
      }
    }
  }
  return { data, width: image.width, height: image.height }
}

// Scores are rounded so that JSON output stays readable; 4 decimals keep every ranking.
function toCandidate(candidate: ScoredCandidate): EntityCandidate {
  return {
    bbox: candidate.bbox,
    area: candidate.area,
    score: Math.round(candidate.score * 10_000) / 10_000,
  }
}
