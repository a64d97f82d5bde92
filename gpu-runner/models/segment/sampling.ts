/**
 * Grid prompting for automatic mask generation: decoder calls, the per-mask filters, and the
 * coverage map that lets later passes skip points inside masks already accepted.
 *
 * Masks are sampled in a working frame: the upright image size when its longest side is at most
 * 1024 px, else the 1024-longest-side frame. So a large photo costs no more per call than a
 * small one. Its stability scores are computed at that frame, whereas the reference computes
 * them at full size. The two differ by resampling only.
 */
import type { PixelBox } from '../../pipeline/types.ts'
import { SAM_IMAGE_SIZE_PX } from '../contracts.ts'
import type { AutoMaskOptions, GridPass, MaskFilter } from './auto-mask-options.ts'
import { measureLogitMask, type LogitMaskStats } from './mask-ops.ts'
import { buildPointGrid, type GridPoint } from './point-grid.ts'
import type { SamDecoder, SamMaskCandidate, SamOutputFrame } from './sam-decoder.ts'
import type { SamImageEmbedding } from './sam-encoder.ts'

/** Frame masks are sampled and cleaned in. */
export interface WorkingFrame {
  readonly width: number
  readonly height: number
  readonly outputFrame: SamOutputFrame
  /** The frame is the upright image size. */
  readonly isUpright: boolean
}

/** A mask that passed the filters, kept small until it survives NMS. */
export interface MaskCandidate {
  /** float32 256 × 256 decoder logits, from which the full mask is rebuilt. */
  readonly lowResLogits: Float32Array
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
  /** Grid points not prompted because an accepted mask covered them. */
  readonly skippedPoints: number
  /** Masks the decoder returned. */
  readonly masks: number
  readonly rejectedByIou: number
  readonly rejectedByStability: number
  readonly accepted: number
}

/** Candidates of one image with the counts and time behind them. */
export interface SamplingResult {
  readonly candidates: MaskCandidate[]
  readonly stats: SamplingStats
  readonly working: WorkingFrame
  readonly decoderMs: number
  readonly filteringMs: number
}

/** Picks the working frame: the upright size up to 1024 px on the longest side, else resized. */
export function chooseWorkingFrame(embedding: SamImageEmbedding): WorkingFrame {
  const frame = embedding.frame
  const isUpright = Math.max(frame.originalWidth, frame.originalHeight) <= SAM_IMAGE_SIZE_PX
  return isUpright
    ? {
        width: frame.originalWidth,
        height: frame.originalHeight,
        outputFrame: 'original',
        isUpright,
      }
    : { width: frame.resizedWidth, height: frame.resizedHeight, outputFrame: 'resized', isUpright }
}

/** Mutable state of one sampling run. */
interface SamplingState {
  readonly covered: Uint8Array
  readonly visited: Set<string>
  readonly candidates: MaskCandidate[]
  readonly counts: { -readonly [K in keyof Omit<SamplingStats, 'accepted'>]: number }
  decoderMs: number
  filteringMs: number
}

/** Prompts the decoder over the grid passes and keeps the masks that pass the filters. */
export async function collectCandidates(
  decoder: SamDecoder,
  embedding: SamImageEmbedding,
  options: AutoMaskOptions
): Promise<SamplingResult> {
  const working = chooseWorkingFrame(embedding)
  const state: SamplingState = {
    covered: new Uint8Array(working.width * working.height),
    visited: new Set(),
    candidates: [],
    counts: {
      decoderCalls: 0,
      skippedPoints: 0,
      masks: 0,
      rejectedByIou: 0,
      rejectedByStability: 0,
    },
    decoderMs: 0,
    filteringMs: 0,
  }

  for (const pass of options.passes) {
    await runPass({ decoder, embedding, working, pass, options, state })
  }

  const { candidates, counts, decoderMs, filteringMs } = state
  const stats = { ...counts, accepted: candidates.length }
  return { candidates, stats, working, decoderMs, filteringMs }
}

async function runPass(args: {
  decoder: SamDecoder
  embedding: SamImageEmbedding
  working: WorkingFrame
  pass: GridPass
  options: AutoMaskOptions
  state: SamplingState
}): Promise<void> {
  const { embedding, working, pass, options, state } = args
  const { originalWidth, originalHeight } = embedding.frame

  for (const point of buildPointGrid(originalWidth, originalHeight, pass.pointsPerSide)) {
    if (state.counts.decoderCalls >= options.maxDecoderCalls) return
    const key = `${point[0]},${point[1]}`
    if (state.visited.has(key)) continue
    state.visited.add(key)
    if (pass.skipCovered && isCovered(point, working, embedding, state.covered)) {
      state.counts.skippedPoints++
      continue
    }

    const confident = await promptPoint({ ...args, point, multimask: true })
    const wantsSingle =
      pass.singleMask === 'always' || (pass.singleMask === 'when-uncertain' && !confident)
    if (wantsSingle && state.counts.decoderCalls < options.maxDecoderCalls) {
      await promptPoint({ ...args, point, multimask: false })
    }
  }
}

/**
 * Prompts one point and filters the masks the decoder returns.
 *
 * @returns whether some mask met `options.confidentMask`.
 */
async function promptPoint(args: {
  decoder: SamDecoder
  embedding: SamImageEmbedding
  working: WorkingFrame
  options: AutoMaskOptions
  state: SamplingState
  point: GridPoint
  multimask: boolean
}): Promise<boolean> {
  const { decoder, embedding, working, options, state, point, multimask } = args
  const started = performance.now()
  const prediction = await decoder.predict(
    embedding,
    [{ x: point[0], y: point[1], label: 'positive' }],
    { outputFrame: working.outputFrame, multimask }
  )
  state.decoderMs += performance.now() - started
  state.counts.decoderCalls++

  const filterStarted = performance.now()
  const filter = multimask ? options.multimaskFilter : options.singleMaskFilter
  let confident = false
  for (const mask of prediction.candidates) {
    const measured = acceptMask({ mask, point, decoder, working, options, filter, state })
    confident ||= passesFilter(mask.predictedIou, measured?.stabilityScore, options.confidentMask)
  }
  state.filteringMs += performance.now() - filterStarted
  return confident
}

function passesFilter(
  predictedIou: number,
  stabilityScore: number | undefined,
  filter: MaskFilter
): boolean {
  return (
    predictedIou > filter.predIouThreshold &&
    stabilityScore !== undefined &&
    stabilityScore >= filter.stabilityScoreThreshold
  )
}

function isCovered(
  point: GridPoint,
  working: WorkingFrame,
  embedding: SamImageEmbedding,
  covered: Uint8Array
): boolean {
  const { originalWidth, originalHeight } = embedding.frame
  const x = Math.min(Math.floor((point[0] * working.width) / originalWidth), working.width - 1)
  const y = Math.min(Math.floor((point[1] * working.height) / originalHeight), working.height - 1)
  return covered[y * working.width + x] === 1
}

/**
 * Applies the predicted-IoU and stability filters; an accepted mask extends the coverage.
 *
 * @returns the mask's measures, or undefined when its predicted IoU rejected it unmeasured.
 */
function acceptMask(args: {
  mask: SamMaskCandidate
  point: GridPoint
  decoder: SamDecoder
  working: WorkingFrame
  options: AutoMaskOptions
  filter: MaskFilter
  state: SamplingState
}): LogitMaskStats | undefined {
  const { mask, point, decoder, working, options, filter, state } = args
  state.counts.masks++
  if (!(mask.predictedIou > filter.predIouThreshold)) {
    state.counts.rejectedByIou++
    return undefined
  }
  const threshold = decoder.maskThreshold
  const measured = measureLogitMask(mask.logits, working.width, {
    threshold,
    offset: options.stabilityScoreOffset,
  })
  if (!(measured.stabilityScore >= filter.stabilityScoreThreshold)) {
    state.counts.rejectedByStability++
    return measured
  }
  const box = measured.box
  if (box === null) return measured

  markCovered(state.covered, working.width, box, (i) => (mask.logits[i] ?? 0) > threshold)
  state.candidates.push({
    // A copy, so the decoder's output buffers can be freed.
    lowResLogits: new Float32Array(mask.lowResLogits),
    box,
    predictedIou: mask.predictedIou,
    stabilityScore: measured.stabilityScore,
    point,
  })
  return measured
}

function markCovered(
  covered: Uint8Array,
  width: number,
  box: PixelBox,
  isInside: (index: number) => boolean
): void {
  const [x0, y0, x1, y1] = box
  for (let y = y0; y < y1; y++) {
    for (let i = y * width + x0; i < y * width + x1; i++) {
      if (isInside(i)) covered[i] = 1
    }
  }
}
