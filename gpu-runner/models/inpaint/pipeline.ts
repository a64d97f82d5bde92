/**
 * Stable Diffusion inpainting of one working window: text conditioning, VAE encoding of the
 * masked window, the guided denoising loop and VAE decoding, in the order of diffusers'
 * `StableDiffusionInpaintPipeline`.
 */
import type { SchedulerName } from '../../../shared/schemas/edit-settings.ts'
import type { InpaintInputs } from '../../compose/inpaint-inputs.ts'
import { rgbFromNchw } from '../../compose/inpaint-inputs.ts'
import type { RgbImage } from '../../image/types.ts'
import type { ModelSession } from '../../onnx/sessions.ts'
import type { ClipTokenizer, PadStrategy } from '../../text/clip-tokenizer.ts'
import { CLIP_MAX_TOKENS, LATENT_CHANNELS, VAE_SCALE_FACTOR_PX } from '../contracts.ts'
import { denoise, type DenoiseProgress } from './denoise.ts'
import type { SchedulerConfig } from './schedule.ts'
import { encodePromptPair } from './text-encoder.ts'
import { createUnetFunction } from './unet.ts'
import { decodeLatents, encodeLatents } from './vae.ts'

/** The four sessions of an inpainting model and the values its config fixes. */
export interface InpaintModels {
  readonly textEncoder: ModelSession
  readonly vaeEncoder: ModelSession
  readonly vaeDecoder: ModelSession
  readonly unet: ModelSession
  readonly tokenizer: ClipTokenizer
  /** Latent scale factor of the VAE (0.18215 for SD 1.x and 2.x). */
  readonly vaeScalingFactor: number
  readonly schedulerConfig: SchedulerConfig
  /** Padding of the text encoder's token ids, from the model's tokenizer config. */
  readonly pad: PadStrategy
}

export interface InpaintWindowJob {
  readonly inputs: InpaintInputs
  readonly prompt: string
  readonly negativePrompt: string
  readonly steps: number
  readonly guidanceScale: number
  readonly scheduler: SchedulerName
  readonly seed: number
  /** Below 1, the loop starts from the noised latents of the original window (keep-shape). */
  readonly strength: number
  readonly signal?: AbortSignal
  readonly onStep?: (progress: DenoiseProgress) => void
}

export interface InpaintWindowResult {
  /** The regenerated window at model size. */
  readonly image: RgbImage
  readonly timingsMs: Readonly<Record<string, number>>
}

/** Regenerates the masked part of one window from the prompt. */
export async function inpaintWindow(
  models: InpaintModels,
  job: InpaintWindowJob
): Promise<InpaintWindowResult> {
  const { inputs } = job
  const size = { width: inputs.width, height: inputs.height }
  const latentDims = [
    1,
    LATENT_CHANNELS,
    size.height / VAE_SCALE_FACTOR_PX,
    size.width / VAE_SCALE_FACTOR_PX,
  ] as const
  const timings: Record<string, number> = {}
  const timed = async <T>(stage: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now()
    const result = await work()
    timings[stage] = performance.now() - started
    return result
  }

  // 1. Text embeddings for [negative, prompt] in one batch (classifier-free guidance)
  const prompts = await timed('text_encoding', () =>
    encodePromptPair({ ...models, prompt: job.prompt, negativePrompt: job.negativePrompt })
  )

  // 2. Latents of the masked window, and of the whole window for a keep-shape start
  const { maskedImageLatents, initLatents } = await timed('vae_encode', async () => ({
    maskedImageLatents: await encodeLatents(
      models.vaeEncoder,
      inputs.maskedImageNchw,
      size,
      models.vaeScalingFactor
    ),
    initLatents:
      job.strength < 1
        ? await encodeLatents(models.vaeEncoder, inputs.imageNchw, size, models.vaeScalingFactor)
        : undefined,
  }))

  // 3. Guided denoising loop
  const latents = await timed('unet_loop', () =>
    denoise({
      unet: createUnetFunction(models.unet),
      scheduler: job.scheduler,
      config: models.schedulerConfig,
      steps: job.steps,
      guidanceScale: job.guidanceScale,
      textEmbeds: { data: prompts.hiddenStates, dims: [2, CLIP_MAX_TOKENS, prompts.hiddenSize] },
      maskLatent: { data: inputs.latentMaskNchw, dims: [1, 1, latentDims[2], latentDims[3]] },
      maskedImageLatents: { data: maskedImageLatents, dims: latentDims },
      ...(initLatents ? { initLatents: { data: initLatents, dims: latentDims } } : {}),
      strength: job.strength,
      seed: job.seed,
      ...(job.signal ? { signal: job.signal } : {}),
      ...(job.onStep ? { onStep: job.onStep } : {}),
    })
  )

  // 4. Decode to 8-bit RGB at model size
  const image = await timed('vae_decode', async () => {
    const pixels = await decodeLatents(
      models.vaeDecoder,
      latents.data,
      size,
      models.vaeScalingFactor
    )
    return rgbFromNchw(pixels, size.width, size.height)
  })

  return { image, timingsMs: timings }
}
