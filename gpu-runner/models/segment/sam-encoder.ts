/**
 * SAM image encoder: one run per image turns the preprocessed pixels into the image embedding
 * that every decoder call for that image reuses.
 */
import type { RgbImage } from '../../image/types.ts'
import { makeTensor, readFloat32, type ModelSession } from '../../onnx/sessions.ts'
import { SAM_EMBEDDING_CHANNELS, SAM_EMBEDDING_SIZE } from '../contracts.ts'
import type { SamEncoderConfig } from './sam-config.ts'
import { buildSamEncoderInput, type SamFrame } from './sam-preprocess.ts'

/** Dims of the image embedding every SAM variant produces. */
export const SAM_EMBEDDING_DIMS = [
  1,
  SAM_EMBEDDING_CHANNELS,
  SAM_EMBEDDING_SIZE,
  SAM_EMBEDDING_SIZE,
] as const

/** Image embedding of one upright image and the frame it was computed in. */
export interface SamImageEmbedding {
  /** float32 `[1, 256, 64, 64]`, unbounded. */
  readonly data: Float32Array
  readonly frame: SamFrame
}

/** An encoder session bound to the settings of its export. */
export interface SamEncoder {
  readonly config: SamEncoderConfig
  embedImage(image: RgbImage): Promise<SamImageEmbedding>
}

/** Creates an encoder over a loaded session whose names match `config`. */
export function createSamEncoder(session: ModelSession, config: SamEncoderConfig): SamEncoder {
  return {
    config,
    embedImage: (image) => embedImage(session, config, image),
  }
}

/**
 * Preprocesses `image` and runs the encoder; float16 exports get float16 pixels.
 *
 * @throws RangeError when the encoder returns dims other than `[1, 256, 64, 64]`.
 */
async function embedImage(
  session: ModelSession,
  config: SamEncoderConfig,
  image: RgbImage
): Promise<SamImageEmbedding> {
  const input = buildSamEncoderInput(image, config)
  const feeds = {
    [config.inputName]: makeTensor(session, config.inputName, input.pixels, input.dims),
  }

  const outputs = await session.run(feeds)

  const output = outputs[config.outputName]
  if (output === undefined) {
    throw new RangeError(`SAM encoder "${session.id}" returned no "${config.outputName}" output.`)
  }
  assertDims(session.id, config.outputName, output.dims, SAM_EMBEDDING_DIMS)
  return { data: readFloat32(output), frame: input.frame }
}

/** Throws a RangeError naming expected and actual dims when they differ. */
export function assertDims(
  modelId: string,
  name: string,
  actual: readonly number[],
  expected: readonly number[]
): void {
  const same = actual.length === expected.length && actual.every((d, i) => d === expected[i])
  if (same) return

  throw new RangeError(
    `Model "${modelId}" output "${name}" has dims [${actual.join(', ')}], ` +
      `expected [${expected.join(', ')}].`
  )
}
