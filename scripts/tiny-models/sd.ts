/**
 * Tiny Stable Diffusion inpainting parts with the tensor names of the diffusers ONNX export:
 * text encoder, VAE encoder and decoder, and a 9-channel UNet in float32 and float16.
 *
 * The UNet predicts the noise that leads DDIM to a known clean latent:
 *
 *   x0* = masked_image_latents · (1 − mask) + tint(text) · mask
 *   ε   = clip((x_t − √ᾱ_t · x0*) / √(1 − ᾱ_t), −8, 8)
 *
 * where x_t, mask and masked_image_latents are channels 0–3, 4 and 5–8 of `sample`, ᾱ_t is
 * alphas_cumprod of the scaled_linear schedule below at the integer timestep t, and tint(text)
 * = 0.6 · tanh(mean over tokens of encoder_hidden_states · W). With these ε every DDIM step
 * (η = 0) on the same schedule predicts x0* as the clean sample, so a run from noise ends at
 * √ᾱ_last · x0* + √(1 − ᾱ_last) · ε with ᾱ_last = ᾱ_0 = 0.99915 when set_alpha_to_one is false,
 * and guidance, timesteps and masks change the result in a way a test can compute.
 */
import {
  CLIP_MAX_TOKENS,
  LATENT_CHANNELS,
  UNET_INPAINT_CHANNELS,
  VAE_SCALE_FACTOR_PX,
} from '../../gpu-runner/models/contracts.ts'
import { addTokenEmbedding, TINY_CLIP_EMBEDDING_DIM } from './clip.ts'
import { ElementType, GraphBuilder, uniformValues } from './onnx-graph.ts'

/** Hidden size of the tiny text encoder, and so of the UNet's encoder_hidden_states. */
export const TINY_SD_HIDDEN_SIZE = TINY_CLIP_EMBEDDING_DIM

/** The scheduler the tiny UNet's noise table follows; the manifest repeats these values. */
export const TINY_SCHEDULER = {
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
} as const

/** Bound of the tiny UNet's output. */
export const TINY_UNET_OUTPUT_BOUND = 8

/** Scale of the tiny VAE: latents of an image in [-1, 1] stay within ±6 (4 · 3 · 0.5). */
const VAE_SCALE = 4

/**
 * First three columns of the 4×4 Hadamard matrix divided by 2: orthonormal, so the decoder's
 * transpose undoes the encoder's projection exactly.
 */
const VAE_BASIS = [
  [0.5, 0.5, 0.5],
  [0.5, -0.5, 0.5],
  [0.5, 0.5, -0.5],
  [0.5, -0.5, -0.5],
] as const

/**
 * Returns √ᾱ_t and √(1 − ᾱ_t) for t = 0..999, from betas = linspace(√β_start, √β_end, 1000)²
 * and ᾱ_t = ∏_{s≤t} (1 − β_s), computed in float64.
 */
export function noiseTables(): { signal: Float64Array; noise: Float64Array } {
  const { numTrainTimesteps: count, betaStart, betaEnd } = TINY_SCHEDULER
  const from = Math.sqrt(betaStart)
  const step = (Math.sqrt(betaEnd) - from) / (count - 1)
  const signal = new Float64Array(count)
  const noise = new Float64Array(count)
  let alphaProduct = 1
  for (let t = 0; t < count; t++) {
    const beta = (from + t * step) ** 2
    alphaProduct *= 1 - beta
    signal[t] = Math.sqrt(alphaProduct)
    noise[t] = Math.sqrt(1 - alphaProduct)
  }
  return { signal, noise }
}

/**
 * Builds sd-text-encoder-tiny: input_ids int32 [B,77] → last_hidden_state float32 [B,77,32].
 *
 * Each position is tanh(W · mean of (token vector + position vector) over positions 0..i),
 * so like CLIP's causal attention a state never depends on later tokens.
 */
export function buildSdTextEncoderTiny(): Uint8Array {
  const g = new GraphBuilder('sd_text_encoder_tiny')
  const ids = g.input('input_ids', 'int32', ['batch', CLIP_MAX_TOKENS])
  const dim = TINY_SD_HIDDEN_SIZE

  const tokens = addTokenEmbedding(g, ids, 301)
  const positions = g.floats(
    'position_embedding',
    [CLIP_MAX_TOKENS, dim],
    uniformValues(303, CLIP_MAX_TOKENS * dim, 0.25)
  )
  const summed = g.node('CumSum', [g.node('Add', [tokens, positions]), g.int64s('axis_1', [], [1])])
  const counts = g.floats(
    'position_counts',
    [CLIP_MAX_TOKENS, 1],
    Array.from({ length: CLIP_MAX_TOKENS }, (_, i) => i + 1)
  )
  const means = g.node('Div', [summed, counts])
  const weights = g.floats(
    'projection',
    [dim, dim],
    uniformValues(304, dim * dim, 2 / Math.sqrt(dim))
  )
  const hidden = g.node('Tanh', [g.node('MatMul', [means, weights])])
  g.output('last_hidden_state', 'float32', ['batch', CLIP_MAX_TOKENS, dim], hidden)

  return g.encode({
    docString: 'Tiny Stable Diffusion text encoder for tests: causal mean of sine token vectors.',
    metadata: { 'semani.role': 'sd-text-encoder' },
  })
}

/**
 * Builds sd-vae-encoder-tiny: sample [B,3,H,W] → latent_sample [B,4,H/8,W/8].
 *
 * 8×8 average pooling, then a 1×1 convolution with 4 · VAE_BASIS.
 */
export function buildSdVaeEncoderTiny(): Uint8Array {
  const g = new GraphBuilder('sd_vae_encoder_tiny')
  const sample = g.input('sample', 'float32', ['batch', 3, 'height', 'width'])
  const f = VAE_SCALE_FACTOR_PX

  const pooled = g.node('AveragePool', [sample], { kernel_shape: [f, f], strides: [f, f] })
  const weights = VAE_BASIS.flatMap((row) => row.map((value) => value * VAE_SCALE))
  const latents = g.node('Conv', [
    pooled,
    g.floats('projection', [LATENT_CHANNELS, 3, 1, 1], weights),
  ])
  g.output(
    'latent_sample',
    'float32',
    ['batch', LATENT_CHANNELS, 'latent_height', 'latent_width'],
    latents
  )

  return g.encode({
    docString:
      'Tiny Stable Diffusion VAE encoder for tests: 8x8 average pool and a 1x1 projection.',
    metadata: { 'semani.role': 'sd-vae-encoder' },
  })
}

/**
 * Builds sd-vae-decoder-tiny: latent_sample [B,4,h,w] → sample [B,3,8h,8w].
 *
 * A 1×1 convolution with VAE_BASIS transposed / 4 (the encoder's left inverse), then bilinear
 * upsampling by 8. Decoding an encoded image gives its 8×8-pooled, smoothed version.
 */
export function buildSdVaeDecoderTiny(): Uint8Array {
  const g = new GraphBuilder('sd_vae_decoder_tiny')
  const latents = g.input('latent_sample', 'float32', [
    'batch',
    LATENT_CHANNELS,
    'latent_height',
    'latent_width',
  ])
  const f = VAE_SCALE_FACTOR_PX

  const weights = ([0, 1, 2] as const).flatMap((column) =>
    VAE_BASIS.map((row) => row[column] / VAE_SCALE)
  )
  const rgb = g.node('Conv', [latents, g.floats('projection', [3, LATENT_CHANNELS, 1, 1], weights)])
  const scales = g.floats('scales', [4], [1, 1, f, f])
  const upsampled = g.node('Resize', [rgb, '', scales], { mode: 'linear' })
  g.output('sample', 'float32', ['batch', 3, 'height', 'width'], upsampled)

  return g.encode({
    docString:
      'Tiny Stable Diffusion VAE decoder for tests: 1x1 projection and bilinear x8 upsampling.',
    metadata: { 'semani.role': 'sd-vae-decoder' },
  })
}

/**
 * Builds sd-unet-inpaint-tiny: sample [B,9,h,w], timestep [T] (T = B or 1), encoder_hidden_states
 * [B,77,32] → out_sample [B,4,h,w], with the ε formula in the file header.
 *
 * @param precision `float32`: int64 timestep and float32 tensors, as the diffusers export;
 *   `float16`: float16 sample, timestep, encoder_hidden_states and out_sample, as fp16 exports.
 */
export function buildSdUnetInpaintTiny(precision: 'float32' | 'float16'): Uint8Array {
  const g = new GraphBuilder(`sd_unet_inpaint_tiny_${precision}`)
  const latentDims = ['batch', UNET_INPAINT_CHANNELS, 'latent_height', 'latent_width']
  const floatType = precision
  const sampleIn = g.input('sample', floatType, latentDims)
  const timestepIn = g.input('timestep', precision === 'float32' ? 'int64' : 'float16', [
    'timestep_batch',
  ])
  const textIn = g.input('encoder_hidden_states', floatType, [
    'batch',
    CLIP_MAX_TOKENS,
    TINY_SD_HIDDEN_SIZE,
  ])

  // 1. Work in float32 whatever the interface, so both variants compute the same function
  const sample =
    precision === 'float32' ? sampleIn : g.node('Cast', [sampleIn], { to: ElementType.float32 })
  const text =
    precision === 'float32' ? textIn : g.node('Cast', [textIn], { to: ElementType.float32 })
  const timestep =
    precision === 'float32' ? timestepIn : g.node('Cast', [timestepIn], { to: ElementType.int64 })

  // 2. Split the 9 channels into noisy latents, mask and masked-image latents
  const axis1 = g.int64s('axis_1', [1], [1])
  const slice = (from: number, to: number): string =>
    g.node('Slice', [
      sample,
      g.int64s(`from_${from}`, [1], [from]),
      g.int64s(`to_${to}`, [1], [to]),
      axis1,
    ])
  const noisy = slice(0, LATENT_CHANNELS)
  const mask = slice(LATENT_CHANNELS, LATENT_CHANNELS + 1)
  const maskedImage = slice(LATENT_CHANNELS + 1, UNET_INPAINT_CHANNELS)

  // 3. Clean target: masked-image latents outside the mask, a text-dependent tint inside
  const perChannel = g.int64s('per_channel_shape', [4], [-1, LATENT_CHANNELS, 1, 1])
  const pooledText = g.node('ReduceMean', [text], { axes: [1], keepdims: 0 })
  const tintWeights = g.floats(
    'tint_projection',
    [TINY_SD_HIDDEN_SIZE, LATENT_CHANNELS],
    uniformValues(401, TINY_SD_HIDDEN_SIZE * LATENT_CHANNELS, 1)
  )
  const tint = g.node('Mul', [
    g.node('Tanh', [g.node('MatMul', [pooledText, tintWeights])]),
    g.floats('tint_scale', [], [0.6]),
  ])
  const keep = g.node('Sub', [g.floats('one', [], [1]), mask])
  const target = g.node('Add', [
    g.node('Mul', [maskedImage, keep]),
    g.node('Mul', [g.node('Reshape', [tint, perChannel]), mask]),
  ])

  // 4. ε that makes DDIM land on the target: (x_t − √ᾱ_t · x0*) / √(1 − ᾱ_t)
  const tables = noiseTables()
  const perSample = g.int64s('per_sample_shape', [4], [-1, 1, 1, 1])
  const signal = g.node('Reshape', [
    g.node('Gather', [g.floats('signal_rates', [tables.signal.length], tables.signal), timestep]),
    perSample,
  ])
  const noise = g.node('Reshape', [
    g.node('Gather', [g.floats('noise_rates', [tables.noise.length], tables.noise), timestep]),
    perSample,
  ])
  const epsilon = g.node('Div', [g.node('Sub', [noisy, g.node('Mul', [signal, target])]), noise])
  const bound = TINY_UNET_OUTPUT_BOUND
  const clipped = g.node('Clip', [
    epsilon,
    g.floats('low', [], [-bound]),
    g.floats('high', [], [bound]),
  ])

  const out =
    precision === 'float32' ? clipped : g.node('Cast', [clipped], { to: ElementType.float16 })
  g.output(
    'out_sample',
    floatType,
    ['batch', LATENT_CHANNELS, 'latent_height', 'latent_width'],
    out
  )

  return g.encode({
    docString: `Tiny Stable Diffusion inpainting UNet (${precision}) for tests; its noise prediction leads DDIM to a known target.`,
    metadata: { 'semani.role': 'sd-unet-inpaint', 'semani.precision': precision },
  })
}
