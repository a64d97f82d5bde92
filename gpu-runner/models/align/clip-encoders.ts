/**
 * The CLIP image and text encoders as alignment uses them: batches in, embeddings out.
 * Alignment depends only on the `ClipEncoders` interface; `createClipEncoders` implements it
 * with two ONNX sessions of the `clip-image` and `clip-text` roles.
 */
import { makeTensor, readOutput, type ModelSession } from '../../onnx/sessions.ts'
import { RunnerError } from '../../errors.ts'
import { CLIP_IMAGE_SIZE } from '../../tensor/clip-preprocess.ts'
import { CLIP_MAX_TOKENS } from '../../text/clip-tokenizer.ts'

/** CLIP image and text encoders that return unnormalised embeddings, row-major [count, D]. */
export interface ClipEncoders {
  /**
   * Encodes `count` images.
   *
   * @param pixels NCHW float32 [count, 3, 224, 224], CLIP-normalised (`preprocessClipImage`).
   */
  encodeImages(pixels: Float32Array, count: number): Promise<Float32Array>
  /**
   * Encodes `count` token sequences.
   *
   * @param ids [count, 77] token ids from `ClipTokenizer.encodeForModel`.
   */
  encodeTexts(ids: BigInt64Array | Int32Array, count: number): Promise<Float32Array>
}

/** Wraps two ONNX sessions of the `clip-image` and `clip-text` roles as `ClipEncoders`. */
export function createClipEncoders(sessions: {
  readonly image: ModelSession
  readonly text: ModelSession
}): ClipEncoders {
  const { image, text } = sessions

  return {
    async encodeImages(pixels, count) {
      const dims = [count, 3, CLIP_IMAGE_SIZE, CLIP_IMAGE_SIZE]
      const outputs = await image.run({
        pixel_values: makeTensor(image, 'pixel_values', pixels, dims),
      })
      return checkEmbeddings(image.id, readOutput(outputs, 'image_embeds'), count)
    },
    async encodeTexts(ids, count) {
      const dims = [count, CLIP_MAX_TOKENS]
      const outputs = await text.run({ input_ids: makeTensor(text, 'input_ids', ids, dims) })
      return checkEmbeddings(text.id, readOutput(outputs, 'text_embeds'), count)
    },
  }
}

function checkEmbeddings(modelId: string, embeddings: Float32Array, count: number): Float32Array {
  if (count > 0 && embeddings.length > 0 && embeddings.length % count === 0) return embeddings

  throw new RunnerError(
    'model-contract',
    `Model "${modelId}" returned ${embeddings.length} values for a batch of ${count}; ` +
      'expected one embedding row per input.'
  )
}
