/**
 * Classifier-free guidance (Ho and Salimans, "Classifier-Free Diffusion Guidance", 2022) and
 * the inpainting UNet's batch layout.
 *
 * Layout, as diffusers' `StableDiffusionInpaintPipeline` builds it: with guidance the batch is
 * doubled, unconditional (negative prompt) copies first, then conditional ones, and each item
 * has 9 channels `[latents (4), mask (1), masked-image latents (4)]`. The guided prediction is
 * ε = ε_uncond + g (ε_cond − ε_uncond).
 */

import { LATENT_CHANNELS, UNET_INPAINT_CHANNELS } from '../contracts.ts'

/** Channels of the latent-resolution mask in the inpainting UNet input. */
export const MASK_CHANNELS = UNET_INPAINT_CHANNELS - 2 * LATENT_CHANNELS

/** Dimensions of an NCHW tensor: batch, channels, height, width. */
export type NchwDims = readonly [number, number, number, number]

/** A float32 NCHW tensor in row-major order. */
export interface NchwTensor {
  readonly data: Float32Array
  readonly dims: NchwDims
}

/** Text encoder hidden states `[batch, tokens, hidden]`, float32, row-major. */
export interface TextEmbeddings {
  readonly data: Float32Array
  readonly dims: readonly [number, number, number]
}

/**
 * Tells whether a guidance scale needs the doubled batch. diffusers skips guidance at scales
 * of at most 1, because the result would equal the conditional prediction alone.
 */
export function isGuidanceEnabled(guidanceScale: number): boolean {
  return guidanceScale > 1
}

/**
 * Builds the inpainting UNet's `sample` input: `copies` repeats of the batch (2 with guidance),
 * each item the concatenation of latents, mask and masked-image latents along channels.
 *
 * Latents are passed as they are because `scale_model_input` is the identity for DDIM and
 * DPM-Solver++.
 *
 * @param latents `[N, 4, h, w]`
 * @param maskLatent `[N, 1, h, w]`, 1 where the region is regenerated
 * @param maskedImageLatents `[N, 4, h, w]`, already multiplied by the VAE scaling factor
 * @returns `[copies × N, 9, h, w]`
 * @throws RangeError when the shapes disagree
 */
export function buildUnetInput(options: {
  latents: NchwTensor
  maskLatent: NchwTensor
  maskedImageLatents: NchwTensor
  copies: 1 | 2
}): NchwTensor {
  const { latents, maskLatent, maskedImageLatents, copies } = options
  const [batch, , height, width] = latents.dims
  assertNchw('latents', latents, [batch, LATENT_CHANNELS, height, width])
  assertNchw('maskLatent', maskLatent, [batch, MASK_CHANNELS, height, width])
  assertNchw('maskedImageLatents', maskedImageLatents, [batch, LATENT_CHANNELS, height, width])

  const plane = height * width
  const itemSize = UNET_INPAINT_CHANNELS * plane
  const data = new Float32Array(copies * batch * itemSize)
  for (let copy = 0; copy < copies; copy++) {
    for (let n = 0; n < batch; n++) {
      let offset = (copy * batch + n) * itemSize
      for (const part of [latents, maskLatent, maskedImageLatents]) {
        const partSize = part.dims[1] * plane
        data.set(part.data.subarray(n * partSize, (n + 1) * partSize), offset)
        offset += partSize
      }
    }
  }
  return { data, dims: [copies * batch, UNET_INPAINT_CHANNELS, height, width] }
}

/**
 * Combines the UNet output of a doubled batch into the guided prediction
 * ε_uncond + g (ε_cond − ε_uncond), computed in float64 and stored as float32.
 *
 * @param noisePred `[2N, C, h, w]` flattened: the N unconditional items, then the N conditional
 * @returns `[N, C, h, w]` flattened
 * @throws RangeError when the length is odd
 */
export function applyGuidance(noisePred: Float32Array, guidanceScale: number): Float32Array {
  if (noisePred.length % 2 !== 0) {
    throw new RangeError(`Guided UNet output has an odd length ${noisePred.length}.`)
  }
  const half = noisePred.length / 2
  const guided = new Float32Array(half)
  for (let i = 0; i < half; i++) {
    const uncond = noisePred[i]!
    guided[i] = uncond + guidanceScale * (noisePred[half + i]! - uncond)
  }
  return guided
}

/**
 * Selects the embeddings the UNet sees: all of them (unconditional then conditional) with
 * guidance, otherwise only the conditional half.
 *
 * @param textEmbeds `[2N, tokens, hidden]`, unconditional (negative prompt) items first
 * @throws RangeError when the batch is odd
 */
export function selectTextEmbeddings(
  textEmbeds: TextEmbeddings,
  guidanceScale: number
): TextEmbeddings {
  const [batch, tokens, hidden] = textEmbeds.dims
  if (batch % 2 !== 0 || textEmbeds.data.length !== batch * tokens * hidden) {
    throw new RangeError(
      `Text embeddings [${textEmbeds.dims.join(', ')}] with ${textEmbeds.data.length} values ` +
        'are invalid: expected [2N, tokens, hidden], unconditional items first.'
    )
  }
  if (isGuidanceEnabled(guidanceScale)) return textEmbeds
  const half = batch / 2
  return {
    data: textEmbeds.data.subarray(half * tokens * hidden),
    dims: [half, tokens, hidden],
  }
}

/**
 * Checks a tensor's dims and data length against the expected dims.
 *
 * @throws RangeError naming the tensor with expected and actual dims
 */
export function assertNchw(name: string, tensor: NchwTensor, expected: NchwDims): void {
  const [n, c, h, w] = expected
  const sameDims = tensor.dims.every((dim, i) => dim === expected[i])
  if (!sameDims || tensor.data.length !== n * c * h * w) {
    throw new RangeError(
      `${name} has dims [${tensor.dims.join(', ')}] and ${tensor.data.length} values; ` +
        `expected [${expected.join(', ')}].`
    )
  }
}
