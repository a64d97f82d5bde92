/**
 * Tiny CLIP image and text encoders with the tensor names of the optimum "with projection"
 * exports and 32-dimensional embeddings.
 *
 * Token embeddings are computed in the graph as sin(id · f_k + φ_k) for k = 0..31, so no
 * 49408-row table is stored and every token id gets its own vector.
 */
import { CLIP_IMAGE_SIZE_PX, CLIP_MAX_TOKENS } from '../../gpu-runner/models/contracts.ts'
import { ElementType, GraphBuilder, uniformValues } from './onnx-graph.ts'

/** Embedding size of the tiny CLIP encoders. */
export const TINY_CLIP_EMBEDDING_DIM = 32

/** Side of the pooled grid the tiny image encoder projects: 224 / 28 = 8. */
const IMAGE_GRID = 8

/**
 * Builds clip-image-tiny: pixel_values float32 [B,3,224,224] → image_embeds [B,32].
 *
 * The image is average-pooled to an 8×8 grid per channel, flattened to 192 values and
 * multiplied by a fixed [192,32] matrix, so embeddings follow colour and layout.
 */
export function buildClipImageTiny(): Uint8Array {
  const g = new GraphBuilder('clip_image_tiny')
  const pixels = g.input('pixel_values', 'float32', [
    'batch',
    3,
    CLIP_IMAGE_SIZE_PX,
    CLIP_IMAGE_SIZE_PX,
  ])
  const cell = CLIP_IMAGE_SIZE_PX / IMAGE_GRID
  const features = 3 * IMAGE_GRID * IMAGE_GRID

  const pooled = g.node('AveragePool', [pixels], {
    kernel_shape: [cell, cell],
    strides: [cell, cell],
  })
  const flat = g.node('Flatten', [pooled], { axis: 1 })
  const projection = g.floats(
    'projection',
    [features, TINY_CLIP_EMBEDDING_DIM],
    uniformValues(101, features * TINY_CLIP_EMBEDDING_DIM, 1 / Math.sqrt(features))
  )
  const embeds = g.node('MatMul', [flat, projection])
  g.output('image_embeds', 'float32', ['batch', TINY_CLIP_EMBEDDING_DIM], embeds)

  return g.encode({
    docString: 'Tiny CLIP image encoder for tests: 8x8 average pool, flatten, fixed projection.',
    metadata: { 'semani.role': 'clip-image' },
  })
}

/**
 * Builds clip-text-tiny: input_ids int64 [B,77] → text_embeds [B,32].
 *
 * Token vectors are averaged over the positions up to and including the first end token
 * (the largest id, 49407, which ArgMax finds first), as CLIP pools at the end token. Ids after
 * it do not change the result, whatever the padding id.
 */
export function buildClipTextTiny(): Uint8Array {
  const g = new GraphBuilder('clip_text_tiny')
  const ids = g.input('input_ids', 'int64', ['batch', CLIP_MAX_TOKENS])

  const tokens = addTokenEmbedding(g, ids, 201)
  const endPosition = g.node('ArgMax', [ids], { axis: 1, keepdims: 1 })
  const positions = g.int64s('positions', [CLIP_MAX_TOKENS], range(CLIP_MAX_TOKENS))
  const afterEnd = g.node('Greater', [positions, endPosition])
  const keep = g.node('Cast', [g.node('Not', [afterEnd])], { to: ElementType.float32 })
  const axis1 = g.int64s('axis_1', [1], [1])
  const axis2 = g.int64s('axis_2', [1], [2])
  const kept = g.node('Mul', [tokens, g.node('Unsqueeze', [keep, axis2])])
  const summed = g.node('ReduceSum', [kept, axis1], { keepdims: 0 })
  const count = g.node('ReduceSum', [keep, axis1], { keepdims: 1 })
  const pooled = g.node('Div', [summed, count])

  const dim = TINY_CLIP_EMBEDDING_DIM
  const projection = g.floats(
    'projection',
    [dim, dim],
    uniformValues(202, dim * dim, 1 / Math.sqrt(dim))
  )
  g.output('text_embeds', 'float32', ['batch', dim], g.node('MatMul', [pooled, projection]))

  return g.encode({
    docString:
      'Tiny CLIP text encoder for tests: sine token embeddings pooled up to the end token.',
    metadata: { 'semani.role': 'clip-text' },
  })
}

/**
 * Adds sin(id · f_k + φ_k) token vectors [B,77,32] for integer `ids` [B,77].
 *
 * Frequencies lie in [0.01, 0.2] rad per id, so neighbouring ids differ by up to 0.2 rad per
 * component and the largest id (49407) stays below 10^4 rad, where float32 keeps 0.001 rad.
 */
export function addTokenEmbedding(g: GraphBuilder, ids: string, seed: number): string {
  const dim = TINY_CLIP_EMBEDDING_DIM
  const frequencies = uniformValues(seed, dim, 0.095).map((value) => 0.105 + value)
  const phases = uniformValues(seed + 1, dim, Math.PI)
  const axis2 = g.int64s(`token_axis_${seed}`, [1], [2])

  const idsFloat = g.node('Cast', [ids], { to: ElementType.float32 })
  const column = g.node('Unsqueeze', [idsFloat, axis2])
  const angles = g.node('Mul', [column, g.floats(`token_frequencies_${seed}`, [dim], frequencies)])
  const shifted = g.node('Add', [angles, g.floats(`token_phases_${seed}`, [dim], phases)])
  return g.node('Sin', [shifted])
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i)
}
