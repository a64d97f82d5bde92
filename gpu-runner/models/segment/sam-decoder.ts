/**
 * SAM prompt encoder and mask decoder (the standard ONNX export): point prompts in, mask logits
 * and predicted IoU out.
 *
 * Prompt rules from facebookresearch/segment-anything `notebooks/onnx_model_example.ipynb`:
 * coordinates are in the resized frame (`apply_coords`), a prompt without a box gets one
 * padding point (0, 0) with label -1, and `mask_input` is zeros with `has_mask_input` 0 when
 * there is no previous mask. The graph upsamples the logits to `orig_im_size` after cropping
 * the padding to the longest-side resize of that size. The original size and the resized size
 * both resize to the same frame, so both are valid there.
 */
import { makeTensor, readFloat32, type ModelSession, type OrtTensor } from '../../onnx/sessions.ts'
import { SAM_IMAGE_SIZE_PX, SAM_LOW_RES_MASK_SIZE } from '../contracts.ts'
import { resizeLogitsBilinear } from './mask-ops.ts'
import {
  SAM_LABEL_NEGATIVE,
  SAM_LABEL_PADDING,
  SAM_LABEL_POSITIVE,
  SAM_MASK_THRESHOLD,
} from './sam-config.ts'
import { SAM_EMBEDDING_DIMS, assertDims, type SamImageEmbedding } from './sam-encoder.ts'
import { toResizedPoint, type SamFrame } from './sam-preprocess.ts'

/** Label of a point prompt: a click inside (positive) or outside (negative) the wanted mask. */
export type SamPointLabel = 'positive' | 'negative'

/** Point prompt in upright image pixels. */
export interface SamPoint {
  readonly x: number
  readonly y: number
  readonly label: SamPointLabel
}

/**
 * Frame of the returned logits: `original` is the upright image size, `resized` is the
 * 1024-longest-side frame (cheaper for large photos).
 */
export type SamOutputFrame = 'original' | 'resized'

/** One mask the decoder proposes for a prompt. */
export interface SamMaskCandidate {
  /** float32 logits, row-major, `width` × `height`; inside where above the mask threshold. */
  readonly logits: Float32Array
  /** float32 256 × 256 logits of the padded 1024-px square (`low_res_masks`). */
  readonly lowResLogits: Float32Array
  readonly predictedIou: number
}

/** Decoder result for one prompt. */
export interface SamPrediction {
  readonly candidates: readonly SamMaskCandidate[]
  readonly width: number
  readonly height: number
}

/** A decoder session ready for prompts against embeddings of one encoder. */
export interface SamDecoder {
  /** Logit above which a mask pixel is inside. */
  readonly maskThreshold: number
  /**
   * Predicts masks for a point prompt.
   *
   * Exports that return every mask token (`[1, 4, H, W]`) yield the three multimask outputs when
   * `multimask` is true (default) and the single-mask output otherwise. Exports built with
   * `return_single_mask` return one mask, which the graph picks by point count: the best
   * multimask output for one point (with its padding point), the single-mask output for more.
   * For a one-point prompt with `multimask` false, such an export therefore gets a second
   * padding point, which only adds a "not a point" token to the prompt.
   *
   * @throws RangeError when `points` is empty or the outputs have unexpected dims.
   */
  predict(
    embedding: SamImageEmbedding,
    points: readonly SamPoint[],
    options?: { outputFrame?: SamOutputFrame; multimask?: boolean }
  ): Promise<SamPrediction>
}

const LOW_RES = SAM_LOW_RES_MASK_SIZE

// Mask tokens of the SAM mask decoder: one single-mask output and three multimask outputs.
const SAM_MASK_TOKENS = 4

const LABEL_VALUES = { positive: SAM_LABEL_POSITIVE, negative: SAM_LABEL_NEGATIVE } as const

/** Creates a decoder over a session loaded for the `sam-decoder` role. */
export function createSamDecoder(
  session: ModelSession,
  options: { maskThreshold?: number } = {}
): SamDecoder {
  const emptyMask = new Float32Array(SAM_LOW_RES_MASK_SIZE * SAM_LOW_RES_MASK_SIZE)
  // Masks per call of this export, learned from the first call; until then a single-mask
  // request is sent the way a single-mask export needs it.
  let exportMaskCount: number | undefined
  return {
    maskThreshold: options.maskThreshold ?? SAM_MASK_THRESHOLD,
    predict: async (embedding, points, predictOptions = {}) => {
      const { outputFrame = 'original', multimask = true } = predictOptions
      if (points.length === 0) throw new RangeError('A SAM prompt needs at least one point.')

      const frame = embedding.frame
      const [height, width] =
        outputFrame === 'original'
          ? [frame.originalHeight, frame.originalWidth]
          : [frame.resizedHeight, frame.resizedWidth]
      const paddingPoints =
        !multimask && points.length === 1 && exportMaskCount !== SAM_MASK_TOKENS ? 2 : 1
      const feeds = buildFeeds(session, {
        embedding,
        points,
        paddingPoints,
        emptyMask,
        height,
        width,
      })

      const outputs = await session.run(feeds)

      const prediction = readPrediction(session.id, outputs, { width, height, multimask })
      exportMaskCount = prediction.exportMaskCount
      return { candidates: prediction.candidates, width, height }
    },
  }
}

function buildFeeds(
  session: ModelSession,
  options: {
    embedding: SamImageEmbedding
    points: readonly SamPoint[]
    paddingPoints: number
    emptyMask: Float32Array
    height: number
    width: number
  }
): Record<string, OrtTensor> {
  const { embedding, points, paddingPoints, emptyMask, height, width } = options
  const count = points.length + paddingPoints
  const coords = new Float32Array(count * 2)
  const labels = new Float32Array(count)
  points.forEach((point, i) => {
    const [x, y] = toResizedPoint(embedding.frame, point.x, point.y)
    coords[i * 2] = x
    coords[i * 2 + 1] = y
    labels[i] = LABEL_VALUES[point.label]
  })
  // Padding points stay at (0, 0).
  labels.fill(SAM_LABEL_PADDING, points.length)

  const tensor = (name: string, values: Float32Array, dims: readonly number[]): OrtTensor =>
    makeTensor(session, name, values, dims)
  const maskDims = [1, 1, SAM_LOW_RES_MASK_SIZE, SAM_LOW_RES_MASK_SIZE]
  return {
    image_embeddings: tensor('image_embeddings', embedding.data, SAM_EMBEDDING_DIMS),
    point_coords: tensor('point_coords', coords, [1, count, 2]),
    point_labels: tensor('point_labels', labels, [1, count]),
    mask_input: tensor('mask_input', emptyMask, maskDims),
    has_mask_input: tensor('has_mask_input', new Float32Array([0]), [1]),
    orig_im_size: tensor('orig_im_size', new Float32Array([height, width]), [2]),
  }
}

function readPrediction(
  modelId: string,
  outputs: Record<string, OrtTensor>,
  options: { width: number; height: number; multimask: boolean }
): { candidates: SamMaskCandidate[]; exportMaskCount: number } {
  const { width, height, multimask } = options
  const masks = outputs.masks
  const ious = outputs.iou_predictions
  const lowRes = outputs.low_res_masks
  if (masks === undefined || ious === undefined || lowRes === undefined) {
    throw new RangeError(
      `SAM decoder "${modelId}" returned no "masks", "iou_predictions" or "low_res_masks".`
    )
  }
  const maskCount = masks.dims[1] ?? 0
  assertDims(modelId, 'masks', masks.dims, [1, maskCount, height, width])
  assertDims(modelId, 'iou_predictions', ious.dims, [1, maskCount])
  assertDims(modelId, 'low_res_masks', lowRes.dims, [1, maskCount, LOW_RES, LOW_RES])

  const plane = width * height
  const lowResPlane = LOW_RES * LOW_RES
  const maskData = readFloat32(masks)
  const lowResData = readFloat32(lowRes)
  const iouData = readFloat32(ious)
  // Token 0 is the single-mask output; tokens 1–3 are the multimask outputs.
  const indices = maskCount === 1 || !multimask ? [0] : [1, 2, 3]
  const candidates = indices
    .filter((index) => index < maskCount)
    .map((index) => ({
      logits: maskData.subarray(index * plane, (index + 1) * plane),
      lowResLogits: lowResData.subarray(index * lowResPlane, (index + 1) * lowResPlane),
      predictedIou: iouData[index] ?? 0,
    }))
  return { candidates, exportMaskCount: maskCount }
}

/**
 * Upsamples `low_res_masks` logits to `target` the way the decoder graph builds `masks`
 * (`SamOnnxModel.mask_postprocessing`): bilinear to the padded 1024-px square, crop to the
 * resized frame, bilinear to the target size. `target` is the original or the resized frame.
 */
export function upsampleLowResLogits(
  lowResLogits: Float32Array,
  frame: SamFrame,
  target: { width: number; height: number }
): Float32Array {
  const side = SAM_IMAGE_SIZE_PX
  const resized = { width: frame.resizedWidth, height: frame.resizedHeight }
  const cropped = resizeLogitsBilinear(
    lowResLogits,
    { width: LOW_RES, height: LOW_RES },
    { width: side, height: side },
    resized
  )

  const sameSize = target.width === resized.width && target.height === resized.height
  return sameSize ? cropped : resizeLogitsBilinear(cropped, resized, target)
}
