/**
 * Noise schedule shared by the samplers: scheduler config, betas and alphas_cumprod, the
 * numpy-compatible timestep arithmetic, the keep-shape start index and `addNoise`.
 *
 * Symbols (Ho et al. 2020, "Denoising Diffusion Probabilistic Models", section 2):
 * `betas[t]` = β_t, `alphasCumprod[t]` = ᾱ_t = ∏_{s ≤ t} (1 − β_s), so a clean sample x_0
 * noised to timestep t is x_t = sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) ε.
 */

/** Spacing of the betas over the training timesteps. */
export type BetaSchedule = 'scaled_linear' | 'linear'

/** Quantity the UNet predicts: the noise ε, the velocity v = sqrt(ᾱ) ε − sqrt(1 − ᾱ) x_0, or x_0. */
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample'

/** Rule that picks inference timesteps from the training range (diffusers' names). */
export type TimestepSpacing = 'leading' | 'linspace' | 'trailing'

export const BETA_SCHEDULES = ['scaled_linear', 'linear'] as const satisfies readonly BetaSchedule[]
export const PREDICTION_TYPES = [
  'epsilon',
  'v_prediction',
  'sample',
] as const satisfies readonly PredictionType[]
export const TIMESTEP_SPACINGS = [
  'leading',
  'linspace',
  'trailing',
] as const satisfies readonly TimestepSpacing[]

/** Scheduler settings from a model's config, in diffusers' meaning with camelCase names. */
export interface SchedulerConfig {
  readonly numTrainTimesteps: number
  readonly betaStart: number
  readonly betaEnd: number
  readonly betaSchedule: BetaSchedule
  readonly predictionType: PredictionType
  /** Added to every 'leading' timestep; 1 for Stable Diffusion. */
  readonly stepsOffset: number
  /** DDIM's ᾱ after the last step: 1 when true, otherwise ᾱ_0. */
  readonly setAlphaToOne: boolean
  /** Clamp DDIM's predicted x_0 to ±clipSampleRange. */
  readonly clipSample: boolean
  readonly clipSampleRange: number
  /** Spacing for every sampler; when absent each sampler uses its diffusers default. */
  readonly timestepSpacing?: TimestepSpacing
}

/**
 * Scheduler defaults for Stable Diffusion inpainting: scaled-linear betas from 0.00085 to
 * 0.012 over 1000 timesteps, ε prediction. A model whose config differs overrides fields.
 */
export const SD_SCHEDULER_CONFIG: SchedulerConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
  predictionType: 'epsilon',
  stepsOffset: 1,
  setAlphaToOne: false,
  clipSample: false,
  clipSampleRange: 1,
}

/** Standard deviation of the initial noise for DDIM and DPM-Solver++ (both variance preserving). */
export const INIT_NOISE_SIGMA = 1

/** One sampler run: the timesteps it visits and the update between two of them. */
export interface DiffusionScheduler {
  /** Timesteps of the whole schedule, descending; a keep-shape run starts part-way. */
  readonly timesteps: readonly number[]
  /**
   * Computes the latents at the next timestep from the model output at `timesteps[index]`.
   *
   * @param modelOutput guided UNet output for `sample`, same length
   * @param index position in `timesteps`; consecutive calls must use consecutive indices
   */
  step(modelOutput: Float32Array, index: number, sample: Float32Array): Float32Array
}

/**
 * Checks a scheduler config that may come from JSON.
 *
 * @throws RangeError naming the invalid field and the supported values
 */
export function assertSchedulerConfig(config: SchedulerConfig): void {
  const { numTrainTimesteps, betaStart, betaEnd, stepsOffset } = config
  assertOneOf('betaSchedule', config.betaSchedule, BETA_SCHEDULES)
  assertOneOf('predictionType', config.predictionType, PREDICTION_TYPES)
  if (config.timestepSpacing !== undefined) {
    assertOneOf('timestepSpacing', config.timestepSpacing, TIMESTEP_SPACINGS)
  }
  if (!Number.isInteger(numTrainTimesteps) || numTrainTimesteps < 2) {
    throw new RangeError(
      `numTrainTimesteps ${numTrainTimesteps} is invalid: expected an integer ≥ 2.`
    )
  }
  if (!(betaStart > 0 && betaStart <= betaEnd && betaEnd < 1)) {
    throw new RangeError(
      `Betas ${betaStart}..${betaEnd} are invalid: expected 0 < betaStart ≤ betaEnd < 1.`
    )
  }
  if (!Number.isInteger(stepsOffset) || stepsOffset < 0) {
    throw new RangeError(`stepsOffset ${stepsOffset} is invalid: expected an integer ≥ 0.`)
  }
}

/**
 * Computes ᾱ_t for every training timestep, in float64.
 *
 * 'scaled_linear' squares a linear ramp between sqrt(betaStart) and sqrt(betaEnd), as the
 * latent-diffusion training code does (CompVis latent-diffusion `make_beta_schedule`, float64).
 * NOTE: diffusers computes the same schedule in float32. For the SD config that moves ᾱ by up
 * to about 2e-6 relative (estimated with numpy 2.4 by running the formula in float32).
 */
export function computeAlphasCumprod(config: SchedulerConfig): Float64Array {
  const { numTrainTimesteps: count, betaStart, betaEnd } = config
  const alphasCumprod = new Float64Array(count)
  const scaled = config.betaSchedule === 'scaled_linear'
  const first = scaled ? Math.sqrt(betaStart) : betaStart
  const last = scaled ? Math.sqrt(betaEnd) : betaEnd
  const ramp = linspace(first, last, count)

  let product = 1
  for (let t = 0; t < count; t++) {
    const beta = scaled ? ramp[t]! ** 2 : ramp[t]!
    product *= 1 - beta
    alphasCumprod[t] = product
  }
  return alphasCumprod
}

/**
 * Computes the timestep index where a keep-shape run starts, as diffusers' inpainting
 * pipeline does in `get_timesteps`: `steps − min(floor(steps × strength), steps)`.
 *
 * @param strength in (0, 1]; 1 starts at index 0 from pure noise
 * @throws RangeError when the strength is outside (0, 1]
 */
export function computeStartIndex(steps: number, strength: number): number {
  if (!(strength > 0 && strength <= 1)) {
    throw new RangeError(`Strength ${strength} is invalid: expected a number in (0, 1].`)
  }
  const noisedSteps = Math.min(Math.trunc(steps * strength), steps)
  return Math.max(steps - noisedSteps, 0)
}

/**
 * Noises clean latents to the timestep whose ᾱ is `alphaCumprod`:
 * sqrt(ᾱ) x_0 + sqrt(1 − ᾱ) ε, computed in float64 and stored as float32.
 */
export function addNoise(
  originalSamples: Float32Array,
  noise: Float32Array,
  alphaCumprod: number
): Float32Array {
  if (noise.length !== originalSamples.length) {
    throw new RangeError(
      `Noise has ${noise.length} values but the samples have ${originalSamples.length}.`
    )
  }
  const signalScale = Math.sqrt(alphaCumprod)
  const noiseScale = Math.sqrt(1 - alphaCumprod)
  const noisy = new Float32Array(originalSamples.length)
  for (let i = 0; i < noisy.length; i++) {
    noisy[i] = signalScale * originalSamples[i]! + noiseScale * noise[i]!
  }
  return noisy
}

/**
 * Returns `count` evenly spaced values from `start` to `stop` inclusive with numpy's
 * `linspace` arithmetic: `start + k × ((stop − start) / (count − 1))`, the last set to `stop`.
 * Matching numpy bit for bit matters because the values are rounded to integer timesteps.
 */
export function linspace(start: number, stop: number, count: number): number[] {
  if (count === 1) return [start]
  const step = (stop - start) / (count - 1)
  const values = Array.from({ length: count }, (_, k) => k * step + start)
  values[count - 1] = stop
  return values
}

/**
 * Returns numpy's `arange(start, stop, step)` values for a negative float step, first `count`
 * only. numpy fills element i as `start + i × d` with `d = (start + step) − start`, which can
 * differ from `step` in the last bit. Following it keeps the rounded timesteps identical.
 */
export function arangeDescending(start: number, step: number, count: number): number[] {
  const delta = start + step - start
  return Array.from({ length: count }, (_, i) => start + i * delta)
}

/** Rounds half to even, as numpy's `round` does (so 12.5 → 12 and 13.5 → 14). */
export function roundHalfEven(value: number): number {
  const rounded = Math.round(value)
  if (Math.abs(value - Math.trunc(value)) !== 0.5) return rounded
  return 2 * Math.round(value / 2)
}

/**
 * Checks that timesteps are strictly descending integers inside the training range.
 *
 * @throws RangeError naming the step count when spacing cannot give distinct timesteps
 */
export function assertTimesteps(timesteps: readonly number[], numTrainTimesteps: number): void {
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i]!
    const previous = i > 0 ? timesteps[i - 1]! : Infinity
    if (!Number.isInteger(t) || t < 0 || t >= numTrainTimesteps || t >= previous) {
      throw new RangeError(
        `${timesteps.length} steps give timestep ${t} at index ${i}, which is not a distinct ` +
          `timestep in [0, ${numTrainTimesteps - 1}]. Use fewer steps.`
      )
    }
  }
}

/**
 * Checks a step count against the training range.
 *
 * @throws RangeError when `steps` is not an integer in [1, numTrainTimesteps]
 */
export function assertSteps(steps: number, numTrainTimesteps: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > numTrainTimesteps) {
    throw new RangeError(
      `Steps ${steps} is invalid: expected an integer in [1, ${numTrainTimesteps}].`
    )
  }
}

function assertOneOf(field: string, value: string, supported: readonly string[]): void {
  if (!supported.includes(value)) {
    throw new RangeError(
      `${field} "${value}" is not supported. Supported: ${supported.join(', ')}.`
    )
  }
}
