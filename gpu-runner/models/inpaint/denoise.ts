/**
 * The inpainting denoising loop: seeded initial latents (pure noise, or the keep-shape start
 * from noised original latents), one guided UNet call per step and a DDIM or DPM-Solver++
 * update, as diffusers' `StableDiffusionInpaintPipeline.__call__` runs it for a 9-channel UNet.
 * The UNet is a function, so this module contains maths only and no model code.
 */
import type { SchedulerName } from '../../../shared/schemas/edit-settings.ts'
import { RunnerError } from '../../errors.ts'
import { createNoiseGenerator, type NoiseGenerator } from '../../tensor/random.ts'
import { LATENT_CHANNELS } from '../contracts.ts'
import { createDdimScheduler } from './ddim.ts'
import { createDpmSolverScheduler } from './dpm-solver.ts'
import {
  applyGuidance,
  assertNchw,
  buildUnetInput,
  isGuidanceEnabled,
  MASK_CHANNELS,
  selectTextEmbeddings,
  type NchwDims,
  type NchwTensor,
  type TextEmbeddings,
} from './guidance.ts'
import {
  addNoise,
  computeAlphasCumprod,
  computeStartIndex,
  INIT_NOISE_SIGMA,
  type DiffusionScheduler,
  type SchedulerConfig,
} from './schedule.ts'

/**
 * The inpainting UNet as the loop calls it.
 *
 * @param sample `[B, 9, h, w]` float32: latents, mask, masked-image latents
 * @param dims the dims of `sample`; B is 2N with guidance, else N
 * @param timestep integer training timestep in [0, numTrainTimesteps)
 * @param encoderHiddenStates `[B, tokens, hidden]`, in the same batch order as `sample`
 * @returns the prediction `[B, 4, h, w]` float32 (ε, v or x_0 as the config's predictionType)
 */
export type InpaintUnet = (
  sample: Float32Array,
  dims: NchwDims,
  timestep: number,
  encoderHiddenStates: TextEmbeddings
) => Promise<Float32Array>

/** Progress after a completed denoising step. */
export interface DenoiseProgress {
  /** Steps completed, 1-based. */
  readonly step: number
  /** Steps this run performs (fewer than `steps` for a keep-shape start). */
  readonly total: number
  /** Timestep of the completed step. */
  readonly timestep: number
}

export interface DenoiseOptions {
  readonly unet: InpaintUnet
  readonly scheduler: SchedulerName
  readonly config: SchedulerConfig
  readonly steps: number
  /** Classifier-free guidance scale g; at most 1 turns guidance off and halves the batch. */
  readonly guidanceScale: number
  /** `[2N, tokens, hidden]`, unconditional (negative prompt) items first. */
  readonly textEmbeds: TextEmbeddings
  /** `[N, 1, h, w]`, 1 where the region is regenerated. */
  readonly maskLatent: NchwTensor
  /** `[N, 4, h, w]`, the VAE latents of the masked image times the VAE scaling factor. */
  readonly maskedImageLatents: NchwTensor
  /** `[N, 4, h, w]` latents of the original image; required when strength < 1. */
  readonly initLatents?: NchwTensor
  /** Keep-shape strength in (0, 1]; 1 (the default) starts from pure noise. */
  readonly strength?: number
  /** Seed of the initial noise and of DDIM's variance noise. */
  readonly seed: number
  /** DDIM's η in [0, 1]; default 0. Rejected for DPM-Solver++ unless 0. */
  readonly eta?: number
  /** Abort signal, checked before each step, that stops the loop with RunnerError('canceled'). */
  readonly signal?: AbortSignal
  readonly onStep?: (progress: DenoiseProgress) => void
}

/**
 * Runs the denoising loop and returns the final latents `[N, 4, h, w]`.
 *
 * @throws RunnerError 'invalid-input' when steps × strength leaves no step to run
 * @throws RunnerError 'canceled' when `signal` is aborted before a step
 * @throws RunnerError 'model-contract' when the UNet returns the wrong number of values
 * @throws RangeError or TypeError on inconsistent shapes or settings (programmer misuse)
 */
export async function denoise(options: DenoiseOptions): Promise<NchwTensor> {
  const { unet, guidanceScale, maskLatent, maskedImageLatents, signal, onStep } = options

  // 1. Check shapes and settings before any model work
  const dims = checkShapes(options)
  const strength = options.strength ?? 1

  // 2. Schedule, and the start index of a keep-shape run
  const noise = createNoiseGenerator(options.seed)
  const scheduler = createScheduler(options, noise)
  const startIndex = computeStartIndex(options.steps, strength)
  const total = scheduler.timesteps.length - startIndex
  if (total < 1) {
    throw new RunnerError(
      'invalid-input',
      `Strength ${strength} with ${options.steps} steps runs no denoising step, because ` +
        'floor(steps × strength) is 0. Raise steps or strength.',
      { details: { steps: options.steps, strength } }
    )
  }

  // 3. Initial latents: seeded noise, or the original latents noised to the start timestep
  const latentsData = prepareLatents(options, noise, scheduler.timesteps[startIndex]!, strength)
  let latents: NchwTensor = { data: latentsData, dims }

  // 4. Denoising loop: one UNet call per step, batch doubled for guidance
  const copies = isGuidanceEnabled(guidanceScale) ? 2 : 1
  const encoderHiddenStates = selectTextEmbeddings(options.textEmbeds, guidanceScale)
  for (let index = startIndex; index < scheduler.timesteps.length; index++) {
    const completed = index - startIndex
    throwIfAborted(signal, completed, total)

    const timestep = scheduler.timesteps[index]!
    const input = buildUnetInput({ latents, maskLatent, maskedImageLatents, copies })
    const prediction = await unet(input.data, input.dims, timestep, encoderHiddenStates)
    checkUnetOutput(prediction, input.dims)

    const guided = copies === 2 ? applyGuidance(prediction, guidanceScale) : prediction
    latents = { data: scheduler.step(guided, index, latents.data), dims }
    onStep?.({ step: completed + 1, total, timestep })
  }
  return latents
}

/** Validates every tensor against the masked-image latents' dims and returns the latent dims. */
function checkShapes(options: DenoiseOptions): NchwDims {
  const { maskedImageLatents, maskLatent, initLatents, textEmbeds } = options
  const [batch, , height, width] = maskedImageLatents.dims
  const dims: NchwDims = [batch, LATENT_CHANNELS, height, width]
  assertNchw('maskedImageLatents', maskedImageLatents, dims)
  assertNchw('maskLatent', maskLatent, [batch, MASK_CHANNELS, height, width])
  if (initLatents) assertNchw('initLatents', initLatents, dims)

  if ((options.strength ?? 1) < 1 && !initLatents) {
    throw new TypeError('A keep-shape run (strength < 1) needs initLatents.')
  }
  if (textEmbeds.dims[0] !== 2 * batch) {
    throw new RangeError(
      `Text embeddings have batch ${textEmbeds.dims[0]}; expected ${2 * batch} ` +
        `(unconditional then conditional for ${batch} latents).`
    )
  }
  if (!Number.isFinite(options.guidanceScale)) {
    throw new RangeError(`Guidance scale ${options.guidanceScale} is not a finite number.`)
  }
  return dims
}

function createScheduler(options: DenoiseOptions, noise: NoiseGenerator): DiffusionScheduler {
  const { scheduler, config, steps, eta = 0 } = options
  switch (scheduler) {
    case 'ddim':
      return createDdimScheduler({ config, steps, eta, noise })
    case 'dpm-solver++':
      if (eta !== 0) throw new RangeError(`eta ${eta} applies to DDIM only; DPM-Solver++ uses 0.`)
      return createDpmSolverScheduler({ config, steps })
    default: {
      const unknown: never = scheduler
      throw new RangeError(
        `Scheduler "${String(unknown)}" is not supported: use ddim or dpm-solver++.`
      )
    }
  }
}

/**
 * Draws the initial noise (always first from the stream, as diffusers draws it) and returns
 * noise × init_noise_sigma at strength 1, else add_noise(initLatents, noise, startTimestep).
 */
function prepareLatents(
  options: DenoiseOptions,
  noise: NoiseGenerator,
  startTimestep: number,
  strength: number
): Float32Array {
  const sampleNoise = noise.sampleNormal(options.maskedImageLatents.data.length)
  if (strength === 1 || !options.initLatents) {
    return sampleNoise.map((value) => value * INIT_NOISE_SIGMA)
  }
  const alphaCumprod = computeAlphasCumprod(options.config)[startTimestep]!
  return addNoise(options.initLatents.data, sampleNoise, alphaCumprod)
}

function throwIfAborted(signal: AbortSignal | undefined, completed: number, total: number): void {
  if (!signal?.aborted) return
  throw new RunnerError(
    'canceled',
    `Denoising was canceled after ${completed} of ${total} steps.`,
    {
      cause: signal.reason,
      details: { completedSteps: completed, totalSteps: total },
    }
  )
}

function checkUnetOutput(prediction: Float32Array, inputDims: NchwDims): void {
  const [batch, , height, width] = inputDims
  const expected = batch * LATENT_CHANNELS * height * width
  if (prediction.length !== expected) {
    throw new RunnerError(
      'model-contract',
      `The inpainting UNet returned ${prediction.length} values; expected ${expected} ` +
        `([${batch}, ${LATENT_CHANNELS}, ${height}, ${width}]).`
    )
  }
}
