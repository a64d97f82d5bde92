/**
 * DDIM sampler (Song, Meng and Ermon, "Denoising Diffusion Implicit Models", ICLR 2021),
 * following diffusers' `DDIMScheduler` (0.40.0.dev0, `scheduling_ddim.py`) step for step.
 */
import type { NoiseGenerator } from '../../tensor/random.ts'
import {
  arangeDescending,
  assertSchedulerConfig,
  assertSteps,
  assertTimesteps,
  computeAlphasCumprod,
  linspace,
  roundHalfEven,
  type DiffusionScheduler,
  type SchedulerConfig,
} from './schedule.ts'

/** DDIM's own default spacing in diffusers. */
const DDIM_DEFAULT_SPACING = 'leading'

export interface DdimOptions {
  readonly config: SchedulerConfig
  readonly steps: number
  /** η of DDIM equation 16: 0 is deterministic DDIM, 1 has DDPM's variance. Default 0. */
  readonly eta?: number
  /** Source of the variance noise; required when eta > 0. */
  readonly noise?: NoiseGenerator
}

/**
 * Computes DDIM's inference timesteps, descending, as diffusers' `DDIMScheduler.set_timesteps`.
 *
 * 'leading' (the default): `k × (T // steps) + stepsOffset` for k = steps − 1 … 0, so 50 steps
 * over T = 1000 give 981, 961, …, 1. 'linspace': `round(linspace(0, T − 1, steps))`.
 * 'trailing': `round(arange(T, 0, −T / steps)) − 1`.
 *
 * NOTE: for 'trailing' numpy's float `arange` yields steps + 1 values for some counts (62 of
 * 1..1000, for example 61). The extra value would be timestep −1, so only the first `steps`
 * are kept.
 *
 * @throws RangeError when the steps or config are invalid
 */
export function computeDdimTimesteps(config: SchedulerConfig, steps: number): number[] {
  const { numTrainTimesteps: trainSteps } = config
  assertSchedulerConfig(config)
  assertSteps(steps, trainSteps)

  const spacing = config.timestepSpacing ?? DDIM_DEFAULT_SPACING
  let timesteps: number[]
  switch (spacing) {
    case 'leading': {
      const stepRatio = Math.floor(trainSteps / steps)
      timesteps = descendingRange(steps).map((k) => k * stepRatio + config.stepsOffset)
      break
    }
    case 'linspace':
      timesteps = linspace(0, trainSteps - 1, steps)
        .map(roundHalfEven)
        .reverse()
      break
    case 'trailing':
      timesteps = arangeDescending(trainSteps, -trainSteps / steps, steps).map(
        (t) => roundHalfEven(t) - 1
      )
      break
    default:
      return assertNever(spacing)
  }

  assertTimesteps(timesteps, trainSteps)
  return timesteps
}

/**
 * Creates a DDIM sampler for one run.
 *
 * Each step maps x_t to x_prev with prev = t − T // steps (DDIM equation 12):
 * x̂_0 from the model output, then x_prev = sqrt(ᾱ_prev) x̂_0 + sqrt(1 − ᾱ_prev − σ²) ε̂ + σ z,
 * with σ = η sqrt((1 − ᾱ_prev) / (1 − ᾱ_t)) sqrt(1 − ᾱ_t / ᾱ_prev) (equation 16). ᾱ_prev past
 * timestep 0 is 1 when `setAlphaToOne`, else ᾱ_0.
 *
 * @throws RangeError when the steps, config or eta are invalid, or eta > 0 without noise
 */
export function createDdimScheduler(options: DdimOptions): DiffusionScheduler {
  const { config, steps, eta = 0, noise } = options
  if (!(eta >= 0 && eta <= 1)) {
    throw new RangeError(`eta ${eta} is invalid: expected a number in [0, 1].`)
  }
  if (eta > 0 && !noise) {
    throw new RangeError('DDIM with eta > 0 needs a noise generator for its variance term.')
  }

  const timesteps = computeDdimTimesteps(config, steps)
  const alphasCumprod = computeAlphasCumprod(config)
  const finalAlphaCumprod = config.setAlphaToOne ? 1 : alphasCumprod[0]!
  const stepRatio = Math.floor(config.numTrainTimesteps / steps)

  return {
    timesteps,
    step(modelOutput, index, sample) {
      const t = timesteps[index]
      if (t === undefined) {
        throw new RangeError(`Step index ${index} is outside 0..${timesteps.length - 1}.`)
      }
      const prevT = t - stepRatio
      const alphaT = alphasCumprod[t]!
      const alphaPrev = prevT >= 0 ? alphasCumprod[prevT]! : finalAlphaCumprod
      const variance = ((1 - alphaPrev) / (1 - alphaT)) * (1 - alphaT / alphaPrev)
      const stdDev = eta * Math.sqrt(variance)
      const varianceNoise = eta > 0 ? noise!.sampleNormal(sample.length) : undefined
      return stepDdim({ config, modelOutput, sample, alphaT, alphaPrev, stdDev, varianceNoise })
    },
  }
}

/** Applies DDIM equation 12 element-wise in float64, storing float32. */
function stepDdim(args: {
  config: SchedulerConfig
  modelOutput: Float32Array
  sample: Float32Array
  alphaT: number
  alphaPrev: number
  stdDev: number
  varianceNoise: Float32Array | undefined
}): Float32Array {
  const { config, modelOutput, sample, alphaT, alphaPrev, stdDev, varianceNoise } = args
  if (modelOutput.length !== sample.length) {
    throw new RangeError(`Model output has ${modelOutput.length} values, sample ${sample.length}.`)
  }

  const sqrtAlphaT = Math.sqrt(alphaT)
  const sqrtOneMinusAlphaT = Math.sqrt(1 - alphaT)
  const sqrtAlphaPrev = Math.sqrt(alphaPrev)
  const directionScale = Math.sqrt(1 - alphaPrev - stdDev ** 2)
  const clipRange = config.clipSample ? config.clipSampleRange : Infinity
  const prev = new Float32Array(sample.length)

  for (let i = 0; i < prev.length; i++) {
    const x = sample[i]!
    const out = modelOutput[i]!
    let predOriginal: number
    let predEpsilon: number
    switch (config.predictionType) {
      case 'epsilon':
        predOriginal = (x - sqrtOneMinusAlphaT * out) / sqrtAlphaT
        predEpsilon = out
        break
      case 'v_prediction':
        predOriginal = sqrtAlphaT * x - sqrtOneMinusAlphaT * out
        predEpsilon = sqrtAlphaT * out + sqrtOneMinusAlphaT * x
        break
      case 'sample':
        predOriginal = out
        predEpsilon = (x - sqrtAlphaT * out) / sqrtOneMinusAlphaT
        break
      default:
        return assertNever(config.predictionType)
    }
    // As diffusers by default, ε̂ keeps its unclipped value when x̂_0 is clipped.
    predOriginal = Math.min(Math.max(predOriginal, -clipRange), clipRange)
    const noiseTerm = varianceNoise ? stdDev * varianceNoise[i]! : 0
    prev[i] = sqrtAlphaPrev * predOriginal + directionScale * predEpsilon + noiseTerm
  }
  return prev
}

/** Returns steps − 1, steps − 2, …, 0. */
function descendingRange(steps: number): number[] {
  return Array.from({ length: steps }, (_, i) => steps - 1 - i)
}

function assertNever(value: never): never {
  throw new TypeError(`Unhandled value ${String(value)}.`)
}
