/**
 * DPM-Solver++ (2M), the multistep second-order solver of Lu et al., "DPM-Solver++: Fast Solver
 * for Guided Sampling of Diffusion Probabilistic Models" (2022), algorithm 2, in data
 * prediction form. It follows diffusers' `DPMSolverMultistepScheduler` (0.40.0.dev0) with
 * `algorithm_type="dpmsolver++"`, `solver_order=2`, `solver_type="midpoint"`.
 *
 * Symbols: σ̃ = sqrt((1 − ᾱ) / ᾱ) is diffusers' `sigmas`; α_t = 1 / sqrt(σ̃² + 1) = sqrt(ᾱ_t),
 * σ_t = σ̃ α_t = sqrt(1 − ᾱ_t); λ_t = ln α_t − ln σ_t (half the log-SNR); h = λ_t − λ_s.
 */
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

/** DPM-Solver's own default spacing in diffusers. */
const DPM_SOLVER_DEFAULT_SPACING = 'linspace'

/** Step count below which diffusers' `lower_order_final` takes effect. */
const LOWER_ORDER_FINAL_BELOW_STEPS = 15

/** Noise level after the last step: 0 (a clean sample) or σ̃ at timestep 0. */
export type FinalSigmasType = 'zero' | 'sigma_min'

export interface DpmSolverOptions {
  readonly config: SchedulerConfig
  readonly steps: number
  /** Default 'zero', as in diffusers, which makes the last step first order. */
  readonly finalSigmasType?: FinalSigmasType
  /** First-order last step for runs under 15 steps. Default true, as diffusers. */
  readonly lowerOrderFinal?: boolean
}

/**
 * Computes DPM-Solver++'s inference timesteps, descending, as diffusers'
 * `DPMSolverMultistepScheduler.set_timesteps` with `lambda_min_clipped` at its default.
 *
 * 'linspace' (the default): `round(linspace(0, T − 1, steps + 1))` reversed, last dropped, so
 * 20 steps over T = 1000 give 999, 949, 899, …, 50. 'leading': `k × (T // (steps + 1)) +
 * stepsOffset` for k = steps … 1. 'trailing': `round(arange(T, 0, −T / steps)) − 1`, first
 * `steps` values only, as for DDIM.
 *
 * @throws RangeError when the steps or config are invalid or give repeated timesteps
 */
export function computeDpmSolverTimesteps(config: SchedulerConfig, steps: number): number[] {
  const { numTrainTimesteps: trainSteps } = config
  assertSchedulerConfig(config)
  assertSteps(steps, trainSteps)

  const spacing = config.timestepSpacing ?? DPM_SOLVER_DEFAULT_SPACING
  let timesteps: number[]
  switch (spacing) {
    case 'linspace':
      timesteps = linspace(0, trainSteps - 1, steps + 1)
        .map(roundHalfEven)
        .reverse()
        .slice(0, steps)
      break
    case 'leading': {
      const stepRatio = Math.floor(trainSteps / (steps + 1))
      timesteps = Array.from({ length: steps }, (_, i) => (steps - i) * stepRatio)
      timesteps = timesteps.map((t) => t + config.stepsOffset)
      break
    }
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
 * Creates a DPM-Solver++ (2M) sampler for one run.
 *
 * The model output is first turned into a data prediction x̂_0 (epsilon: (x − σ_s ε̂) / α_s,
 * v: α_s x − σ_s v̂). The first step of a run, and the last where diffusers lowers the order,
 * is first order: x_t = (σ_t / σ_s) x − α_t (e^{−h} − 1) x̂_0. Other steps use the previous
 * step's x̂_0 as well: with r = h_prev / h, D1 = (x̂_0 − x̂_0,prev) / r,
 * x_t = (σ_t / σ_s) x − α_t (e^{−h} − 1) (x̂_0 + D1 / 2).
 *
 * The sampler keeps the previous x̂_0, so calls must use consecutive indices. The first call
 * may start at any index (a keep-shape run).
 *
 * @throws RangeError when the steps or config are invalid
 */
export function createDpmSolverScheduler(options: DpmSolverOptions): DiffusionScheduler {
  const { config, steps, finalSigmasType = 'zero', lowerOrderFinal = true } = options
  const timesteps = computeDpmSolverTimesteps(config, steps)
  const alphasCumprod = computeAlphasCumprod(config)

  const toSigma = (alphaCumprod: number) => Math.sqrt((1 - alphaCumprod) / alphaCumprod)
  const finalSigma = finalSigmasType === 'zero' ? 0 : toSigma(alphasCumprod[0]!)
  const sigmas = [...timesteps.map((t) => toSigma(alphasCumprod[t]!)), finalSigma]
  const lastIndex = timesteps.length - 1
  let previousDataPrediction: Float64Array | undefined
  let previousIndex = -1

  return {
    timesteps,
    step(modelOutput, index, sample) {
      if (index < 0 || index > lastIndex) {
        throw new RangeError(`Step index ${index} is outside 0..${lastIndex}.`)
      }
      if (previousDataPrediction && index !== previousIndex + 1) {
        throw new RangeError(`Step index ${index} does not follow ${previousIndex}.`)
      }

      const source = toAlphaSigma(sigmas[index]!)
      const target = toAlphaSigma(sigmas[index + 1]!)
      const dataPrediction = predictData(config, modelOutput, sample, source)
      const isLowerOrderFinal =
        index === lastIndex &&
        ((lowerOrderFinal && timesteps.length < LOWER_ORDER_FINAL_BELOW_STEPS) ||
          finalSigmasType === 'zero')
      const previous = isLowerOrderFinal ? undefined : previousDataPrediction
      const before = previous ? toAlphaSigma(sigmas[index - 1]!) : undefined
      const next = updateSample({ sample, dataPrediction, previous, before, source, target })

      previousDataPrediction = dataPrediction
      previousIndex = index
      return next
    },
  }
}

/** α, σ and λ of one noise level. */
interface NoiseLevel {
  readonly alpha: number
  readonly sigma: number
  readonly lambda: number
}

/** Converts σ̃ to (α, σ, λ); σ̃ = 0 gives α = 1, σ = 0 and λ = +∞. */
function toAlphaSigma(sigmaTilde: number): NoiseLevel {
  const alpha = 1 / Math.sqrt(sigmaTilde ** 2 + 1)
  const sigma = sigmaTilde * alpha
  return { alpha, sigma, lambda: Math.log(alpha) - Math.log(sigma) }
}

/** Converts the UNet output at noise level `level` to a data prediction x̂_0, in float64. */
function predictData(
  config: SchedulerConfig,
  modelOutput: Float32Array,
  sample: Float32Array,
  level: NoiseLevel
): Float64Array {
  if (modelOutput.length !== sample.length) {
    throw new RangeError(`Model output has ${modelOutput.length} values, sample ${sample.length}.`)
  }
  const { alpha, sigma } = level
  const prediction = new Float64Array(sample.length)
  for (let i = 0; i < prediction.length; i++) {
    const x = sample[i]!
    const out = modelOutput[i]!
    switch (config.predictionType) {
      case 'epsilon':
        prediction[i] = (x - sigma * out) / alpha
        break
      case 'v_prediction':
        prediction[i] = alpha * x - sigma * out
        break
      case 'sample':
        prediction[i] = out
        break
      default:
        return assertNever(config.predictionType)
    }
  }
  return prediction
}

/**
 * Applies the first-order update, or the second-order midpoint update when `previous` (the
 * data prediction at noise level `before`) is given.
 */
function updateSample(args: {
  sample: Float32Array
  dataPrediction: Float64Array
  previous: Float64Array | undefined
  before: NoiseLevel | undefined
  source: NoiseLevel
  target: NoiseLevel
}): Float32Array {
  const { sample, dataPrediction, previous, before, source, target } = args
  const h = target.lambda - source.lambda
  // With a final σ of 0, h is +∞: the sample term vanishes and x_t = x̂_0 (e^{−∞} = 0).
  const sampleScale = target.sigma / source.sigma
  const predictionScale = -target.alpha * Math.expm1(-h)
  const correction = previous && before ? 0.5 / ((source.lambda - before.lambda) / h) : 0
  const next = new Float32Array(sample.length)

  for (let i = 0; i < next.length; i++) {
    const d0 = dataPrediction[i]!
    const d1 = previous ? correction * (d0 - previous[i]!) : 0
    next[i] = sampleScale * sample[i]! + predictionScale * (d0 + d1)
  }
  return next
}

function assertNever(value: never): never {
  throw new TypeError(`Unhandled value ${String(value)}.`)
}
