/**
 * Grid prompting for automatic mask generation: decoder calls, the per-mask filters, and the
 * coverage map that lets finer passes skip points inside masks already accepted.
 */
import type { PixelBox } from '../../pipeline/types.ts'
import {
  computeMaskBox,
  computeStabilityScore,
  countMaskArea,
  thresholdLogits,
} from './mask-ops.ts'
import { buildPointGrid, type GridPoint } from './point-grid.ts'
import { SAM_IMAGE_SIZE_PX } from '../contracts.ts'
import type { SamDecoder, SamOutputFrame } from './sam-decoder.ts'
import type { SamImageEmbedding } from './sam-encoder.ts'
import type { AutoMaskOptions } from './auto-mask-options.ts'

/** A mask that passed the filters, in the working frame. */
export interface MaskCandidate {
  /** float32 logits of the working frame. */
  readonly logits: Float32Array
  readonly mask: Uint8Array
  readonly width: number
  readonly height: number
  /** Box in the working frame, x1 and y1 exclusive. */
  readonly box: PixelBox
  readonly predictedIou: number
  readonly stabilityScore: number
  /** Prompt point in upright image pixels. */
  readonly point: GridPoint
}

/** Counts of one sampling run. */
export interface SamplingStats {
  readonly decoderCalls: number
  readonly skippedPoints: number
  /** Masks the decoder returned. */
  readonly masks: number
  readonly rejectedByIou: number
  readonly rejectedByStability: number
  readonly accepted: number
}

/**
 * Picks the frame masks are sampled in: the upright size when it is no larger than the
 * resized frame, else the resized frame.
 */
export function chooseWorkingFrame(embedding: SamImageEmbedding): SamOutputFrame {
  const frame = embedding.frame
  return Math.max(frame.originalWidth, frame.originalHeight) <= SAM_IMAGE_SIZE_PX
    ? 'original'
    : 'resized'
}

/** Prompts the decoder over the grid passes and keeps the masks that pass the filters. */
export async function collectCandidates(
  decoder: SamDecoder,
  embedding: SamImageEmbedding,
  options: AutoMaskOptions
): Promise<{
  candidates: MaskCandidate[]
  stats: SamplingStats
  decoderMs: number
  filteringMs: number
}> {
  const frame = embedding.frame
  const outputFrame = chooseWorkingFrame(embedding)
  const workWidth = outputFrame === 'original' ? frame.originalWidth : frame.resizedWidth
  const workHeight = outputFrame === 'original' ? frame.originalHeight : frame.resizedHeight
  const covered = new Uint8Array(workWidth * workHeight)
  const counts = { decoderCalls: 0, skippedPoints: 0, masks: 0, rejectedByIou: 0 }
  const counts2 = { rejectedByStability: 0 }
  const candidates: MaskCandidate[] = []
  const visited = new Set<string>()
  let decoderMs = 0
  let filteringMs = 0

  for (const pass of options.passes) {
    for (const point of buildPointGrid(
      frame.originalWidth,
      frame.originalHeight,
      pass.pointsPerSide
    )) {
      const key = `${point[0]},${point[1]}`
      if (visited.has(key)) continue
      visited.add(key)
      if (counts.decoderCalls >= options.maxDecoderCalls) break
      const workX = Math.min(
        Math.floor((point[0] * workWidth) / frame.originalWidth),
        workWidth - 1
      )
      const workY = Math.min(
        Math.floor((point[1] * workHeight) / frame.originalHeight),
        workHeight - 1
      )
      if (pass.skipCovered && covered[workY * workWidth + workX] === 1) {
        counts.skippedPoints++
        continue
      }

      const decodeStarted = performance.now()
      const prediction = await decoder.predict(
        embedding,
        [{ x: point[0], y: point[1], label: 'positive' }],
        { outputFrame }
      )
      decoderMs += performance.now() - decodeStarted
      counts.decoderCalls++

      const filterStarted = performance.now()
      for (const candidate of prediction.candidates) {
        counts.masks++
        if (!(candidate.predictedIou > options.predIouThreshold)) {
          counts.rejectedByIou++
          continue
        }
        const stabilityScore = computeStabilityScore(
          candidate.logits,
          decoder.maskThreshold,
          options.stabilityScoreOffset
        )
        if (!(stabilityScore >= options.stabilityScoreThreshold)) {
          counts2.rejectedByStability++
          continue
        }
        const mask = thresholdLogits(candidate.logits, decoder.maskThreshold)
        const box = computeMaskBox({ data: mask, width: workWidth, height: workHeight })
        if (box === null || countMaskArea(mask) === 0) continue
        for (let i = 0; i < mask.length; i++) covered[i] = (covered[i] ?? 0) | (mask[i] ?? 0)
        candidates.push({
          logits: candidate.logits,
          mask,
          width: workWidth,
          height: workHeight,
          box,
          predictedIou: candidate.predictedIou,
          stabilityScore,
          point,
        })
      }
      filteringMs += performance.now() - filterStarted
    }
  }

  const stats = { ...counts, ...counts2, accepted: candidates.length }
  return { candidates, stats, decoderMs, filteringMs }
}
