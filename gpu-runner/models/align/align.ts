/**
 * Semantic alignment: finds the segmentation proposals that show the entity a word names.
 *
 * Each proposal M_i is scored by the cosine similarity between the CLIP embedding of its
 * masked-entity canvas (M_i ⊙ X on a square, see masked-canvas.ts) and the prompt-ensembled
 * text embedding of the entity word e. The best match, argmax_i Sim(M_i ⊙ X, e), is the edit
 * region, or with `multiple` every proposal above the match threshold (selection.ts).
 */
import { RunnerError } from '../../errors.ts'
import type { RgbImage } from '../../image/types.ts'
import { log } from '../../log.ts'
import { CLIP_IMAGE_SIZE, preprocessClipImage } from '../../tensor/clip-preprocess.ts'
import { CLIP_MAX_TOKENS, type ClipTokenizer, type PadStrategy } from '../../text/clip-tokenizer.ts'
import type { ClipEncoders } from './clip-encoders.ts'
import {
  MASK_INSIDE_MIN,
  renderMaskedCanvas,
  type MaskedCanvasOptions,
  type ProposalMask,
} from './masked-canvas.ts'
import { fillPromptTemplates } from './prompts.ts'
import {
  noRegionsError,
  rankCandidates,
  selectMatches,
  type AlignThresholds,
  type ScoredCandidate,
} from './selection.ts'

/** Masked canvases encoded per image-encoder call, unless the request sets another size. */
export const DEFAULT_IMAGE_BATCH_SIZE = 16

/** Everything one alignment needs. */
export interface AlignEntityRequest {
  /** Decoded upright image the proposals were computed on. */
  readonly image: RgbImage
  readonly proposals: readonly ProposalMask[]
  /** The entity word or short phrase, for example "dog" or "the red car". */
  readonly entity: string
  readonly encoders: ClipEncoders
  readonly tokenizer: ClipTokenizer
  /** The CLIP model's thresholds, from its configuration. */
  readonly thresholds: AlignThresholds
  /** Select every proposal at or above the match threshold instead of only the best. */
  readonly multiple?: boolean
  /** Padding of the CLIP text model's input ids; default `'zeros'` (openai/CLIP). */
  readonly textPad?: PadStrategy
  readonly canvas?: MaskedCanvasOptions
  /** Canvases per image-encoder call; default `DEFAULT_IMAGE_BATCH_SIZE`. */
  readonly imageBatchSize?: number
}

/** Scores of every proposal and the ones selected, each list best first. */
export interface AlignmentResult {
  readonly selected: readonly ScoredCandidate[]
  readonly candidates: readonly ScoredCandidate[]
  readonly timingsMs: { readonly text: number; readonly images: number }
}

/**
 * Scores every proposal against the entity word and selects the matches.
 *
 * @throws RunnerError `entity-not-found` when no proposal reaches `thresholds.notFound`, with
 *   the closest ones in `details.candidates`. RunnerError `model-contract` when the encoders
 *   return embeddings of different sizes or non-finite values.
 */
export async function alignEntity(request: AlignEntityRequest): Promise<AlignmentResult> {
  const { image, proposals, entity, encoders, tokenizer, thresholds } = request
  if (proposals.length === 0) throw noRegionsError(entity)

  // 1. Text embedding of the entity word, averaged over the prompt templates
  const textStarted = performance.now()
  const textEmbedding = await embedEntityText(entity, {
    encoders,
    tokenizer,
    pad: request.textPad ?? 'zeros',
  })
  const textMs = performance.now() - textStarted

  // 2. Image embeddings of the masked-entity canvases, in batches
  const imagesStarted = performance.now()
  const imageEmbeddings = await embedProposals(image, proposals, {
    encoders,
    ...(request.canvas ? { canvas: request.canvas } : {}),
    batchSize: request.imageBatchSize ?? DEFAULT_IMAGE_BATCH_SIZE,
  })
  const imagesMs = performance.now() - imagesStarted

  // 3. Cosine similarity of each proposal with the entity word
  const candidates = rankCandidates(
    proposals.map((proposal, index) => ({
      index,
      bbox: proposal.bbox,
      area: countInside(proposal.boxMask),
      score: dot(imageEmbeddings[index] as Float32Array, textEmbedding, 'image and text'),
    }))
  )
  log.debug('alignment.scored', () => ({
    entity: entity.slice(0, 40),
    scores: candidates.slice(0, 5).map((c) => [c.index, Number(c.score.toFixed(4))]),
  }))

  // 4. Best match, or every match with `multiple`
  const selected = selectMatches(candidates, {
    entity,
    multiple: request.multiple ?? false,
    thresholds,
  })
  log.info('alignment.completed', {
    proposals: proposals.length,
    selected: selected.length,
    bestScore: Number((candidates[0]?.score ?? Number.NaN).toFixed(4)),
    textMs: Math.round(textMs),
    imagesMs: Math.round(imagesMs),
  })
  return { selected, candidates, timingsMs: { text: textMs, images: imagesMs } }
}

/**
 * Computes the unit-length text embedding of an entity word: the mean of the normalised
 * embeddings of the word in every prompt template, normalised again.
 */
export async function embedEntityText(
  entity: string,
  options: { encoders: ClipEncoders; tokenizer: ClipTokenizer; pad: PadStrategy }
): Promise<Float32Array> {
  const { encoders, tokenizer, pad } = options
  const prompts = fillPromptTemplates(entity)
  const ids = new Int32Array(prompts.length * CLIP_MAX_TOKENS)

  prompts.forEach((prompt, row) => {
    const tokens = tokenizer.encodeForModel(prompt, { contextLength: CLIP_MAX_TOKENS, pad })
    if (tokens.droppedTokens > 0) {
      log.warn('prompt.truncated', {
        keptTokens: CLIP_MAX_TOKENS,
        droppedTokens: tokens.droppedTokens,
      })
    }
    ids.set(tokens.inputIds, row * CLIP_MAX_TOKENS)
  })

  const rows = splitRows(await encoders.encodeTexts(ids, prompts.length), prompts.length)
  return normalize(meanOf(rows.map((row) => normalize(row, 'text'))), 'text')
}

/**
 * Computes the unit-length CLIP embedding of each proposal's masked-entity canvas, in the
 * order of `proposals`.
 */
export async function embedProposals(
  image: RgbImage,
  proposals: readonly ProposalMask[],
  options: { encoders: ClipEncoders; canvas?: MaskedCanvasOptions; batchSize: number }
): Promise<Float32Array[]> {
  const { encoders, canvas, batchSize } = options
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`Image batch size must be a positive integer, got ${batchSize}`)
  }

  const imageFloats = 3 * CLIP_IMAGE_SIZE * CLIP_IMAGE_SIZE
  const embeddings: Float32Array[] = []
  for (let first = 0; first < proposals.length; first += batchSize) {
    const batch = proposals.slice(first, first + batchSize)
    const pixels = new Float32Array(batch.length * imageFloats)
    batch.forEach((proposal, batchIndex) => {
      const drawn = renderMaskedCanvas(image, proposal, canvas)
      preprocessClipImage(drawn, { target: pixels, batchIndex })
    })

    const rows = splitRows(await encoders.encodeImages(pixels, batch.length), batch.length)
    for (const row of rows) embeddings.push(normalize(row, 'image'))
  }
  return embeddings
}

function splitRows(flat: Float32Array, count: number): Float32Array[] {
  const width = flat.length / count
  if (!Number.isInteger(width) || width === 0) {
    throw new RunnerError(
      'model-contract',
      `A CLIP encoder returned ${flat.length} values for a batch of ${count}; expected one ` +
        'embedding row per input.'
    )
  }
  return Array.from({ length: count }, (_, row) => flat.subarray(row * width, (row + 1) * width))
}

function normalize(vector: Float32Array, encoderName: string): Float32Array {
  const norm = Math.sqrt(dot(vector, vector, encoderName))
  if (!Number.isFinite(norm) || norm === 0) {
    throw new RunnerError(
      'model-contract',
      `The CLIP ${encoderName} encoder returned an embedding of norm ${norm}; expected a finite, ` +
        'non-zero vector. Check the model file.'
    )
  }
  return vector.map((value) => value / norm)
}

function meanOf(rows: readonly Float32Array[]): Float32Array {
  const mean = new Float32Array(rows[0]?.length ?? 0)
  for (const row of rows) {
    for (let i = 0; i < mean.length; i++) mean[i] = (mean[i] as number) + (row[i] as number)
  }
  return mean.map((value) => value / rows.length)
}

function dot(a: Float32Array, b: Float32Array, encoderNames: string): number {
  if (a.length !== b.length) {
    throw new RunnerError(
      'model-contract',
      `The CLIP ${encoderNames} embeddings differ in size (${a.length} and ${b.length}); the image ` +
        'and text encoders must come from the same CLIP model.'
    )
  }
  let sum = 0
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number)
  return sum
}

function countInside(boxMask: Uint8Array): number {
  let area = 0
  for (const value of boxMask) if (value >= MASK_INSIDE_MIN) area++
  return area
}
