import { describe, expect, it } from 'vitest'

import {
  computeDpmSolverTimesteps,
  createDpmSolverScheduler,
  type FinalSigmasType,
} from '../../../../../gpu-runner/models/inpaint/dpm-solver.ts'
import {
  SD_SCHEDULER_CONFIG,
  type DiffusionScheduler,
  type SchedulerConfig,
} from '../../../../../gpu-runner/models/inpaint/schedule.ts'
import { expectClose, referenceAlphaCumprod } from './expect-close.ts'

// Timestep lists were computed with numpy 2.4.6 from the expressions in diffusers 0.40.0.dev0
// `DPMSolverMultistepScheduler.set_timesteps`, for example
// np.linspace(0, 999, n + 1).round()[::-1][:-1] for the default 'linspace'.

const CLEAN = new Float32Array([0.8, -0.3, 1.7, -2.1, 0.05, 0.6])
const NOISE = new Float32Array([-1.1, 0.4, 0.9, 0.2, -0.5, 1.3])

function runAll(
  scheduler: DiffusionScheduler,
  initial: Float32Array,
  model: (sample: Float32Array, timestep: number) => Float32Array
): Float32Array {
  let sample = initial
  scheduler.timesteps.forEach((t, index) => {
    sample = scheduler.step(model(sample, t), index, sample)
  })
  return sample
}

function noised(t: number): Float32Array {
  const alpha = referenceAlphaCumprod(t)
  return CLEAN.map((x, i) => Math.sqrt(alpha) * x + Math.sqrt(1 - alpha) * NOISE[i]!)
}

function trueNoise(sample: Float32Array, t: number): Float32Array {
  const alpha = referenceAlphaCumprod(t)
  return sample.map((x, i) => (x - Math.sqrt(alpha) * CLEAN[i]!) / Math.sqrt(1 - alpha))
}

/** σ̃ = sqrt((1 − ᾱ) / ᾱ), the noise-to-signal ratio at timestep t. */
function sigmaTilde(t: number): number {
  const alpha = referenceAlphaCumprod(t)
  return Math.sqrt((1 - alpha) / alpha)
}

/**
 * DPM-Solver++(2M) on a scalar with ε̂ = c x, in the form of Lu et al. (2022), algorithm 2:
 * D_i = (1 + 1/(2 r_i)) x̂_0,i − 1/(2 r_i) x̂_0,i−1. Here α = 1/√(σ̃² + 1), σ = σ̃ α and
 * λ = −ln σ̃. A final σ̃ of 0 ends with x = x̂_0 (a first-order step to λ = ∞).
 */
function referenceLinearRun(options: {
  timesteps: readonly number[]
  c: number
  finalSigma: number
  firstOrderLast: boolean
}): number {
  const { timesteps, c, finalSigma, firstOrderLast } = options
  const sigmas = [...timesteps.map(sigmaTilde), finalSigma]
  const alphaOf = (s: number) => 1 / Math.sqrt(s * s + 1)
  const lambdaOf = (s: number) => -Math.log(s)
  let x = 1
  let previousPrediction = 0
  for (let i = 0; i < timesteps.length; i++) {
    const s = sigmas[i]!
    const t = sigmas[i + 1]!
    const prediction = ((1 - s * alphaOf(s) * c) * x) / alphaOf(s)
    const isFirstOrder = i === 0 || (firstOrderLast && i === timesteps.length - 1)
    let blended = prediction
    if (!isFirstOrder) {
      const r = (lambdaOf(s) - lambdaOf(sigmas[i - 1]!)) / (lambdaOf(t) - lambdaOf(s))
      blended = (1 + 1 / (2 * r)) * prediction - (1 / (2 * r)) * previousPrediction
    }
    if (t === 0) {
      x = blended
    } else {
      const h = lambdaOf(t) - lambdaOf(s)
      x = (t / s) * x * (alphaOf(t) / alphaOf(s)) - alphaOf(t) * (Math.exp(-h) - 1) * blended
    }
    previousPrediction = prediction
  }
  return x
}

describe('computeDpmSolverTimesteps', () => {
  it('spaces 20 steps with linspace', () => {
    expect(computeDpmSolverTimesteps(SD_SCHEDULER_CONFIG, 20)).toEqual([
      999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250, 200, 150, 100,
      50,
    ])
  })

  it('rounds linspace ties to even', () => {
    // np.linspace(0, 999, 7) has 166.5, 499.5 and 832.5.
    expect(computeDpmSolverTimesteps(SD_SCHEDULER_CONFIG, 6)).toEqual([
      999, 832, 666, 500, 333, 166,
    ])
  })

  it('spaces leading with steps + 1 slots', () => {
    const config: SchedulerConfig = { ...SD_SCHEDULER_CONFIG, timestepSpacing: 'leading' }

    expect(computeDpmSolverTimesteps(config, 10)).toEqual([
      901, 811, 721, 631, 541, 451, 361, 271, 181, 91,
    ])
  })

  it('follows numpy arange for trailing', () => {
    const config: SchedulerConfig = { ...SD_SCHEDULER_CONFIG, timestepSpacing: 'trailing' }

    expect(computeDpmSolverTimesteps(config, 48).slice(0, 5)).toEqual([999, 978, 957, 936, 916])
  })

  it('rejects timesteps past the range', () => {
    const config: SchedulerConfig = { ...SD_SCHEDULER_CONFIG, timestepSpacing: 'leading' }

    // 999 leading steps have a ratio of 1 and start at 999 + stepsOffset = 1000.
    expect(() => computeDpmSolverTimesteps(config, 999)).toThrow(RangeError)
  })
})

describe('createDpmSolverScheduler', () => {
  it('rescales samples when epsilon is 0', () => {
    const scheduler = createDpmSolverScheduler({ config: SD_SCHEDULER_CONFIG, steps: 20 })
    const initial = new Float32Array([1, -0.5, 2.25])

    const result = runAll(scheduler, initial, (sample) => new Float32Array(sample.length))

    // With ε = 0 the data prediction x / α stays constant along the path, so every step maps
    // x to (α_t / α_s) x and the run ends at x / sqrt(ᾱ_999) (final α = 1).
    const scale = 1 / Math.sqrt(referenceAlphaCumprod(999))
    expectClose(
      result,
      Array.from(initial, (x) => x * scale),
      { rtol: 1e-5 }
    )
  })

  it('recovers x0 with the true noise', () => {
    const scheduler = createDpmSolverScheduler({ config: SD_SCHEDULER_CONFIG, steps: 20 })

    const result = runAll(scheduler, noised(999), trueNoise)

    expectClose(result, CLEAN, { atol: 2e-5 })
  })

  it('ends at sigma_min with its noise', () => {
    const scheduler = createDpmSolverScheduler({
      config: SD_SCHEDULER_CONFIG,
      steps: 20,
      finalSigmasType: 'sigma_min',
    })

    const result = runAll(scheduler, noised(999), trueNoise)

    expectClose(result, noised(0), { atol: 2e-5 })
  })

  it('recovers x0 with the true velocity', () => {
    const config: SchedulerConfig = { ...SD_SCHEDULER_CONFIG, predictionType: 'v_prediction' }
    const scheduler = createDpmSolverScheduler({ config, steps: 12 })
    const trueVelocity = (sample: Float32Array, t: number) => {
      const alpha = referenceAlphaCumprod(t)
      const epsilon = trueNoise(sample, t)
      return epsilon.map((e, i) => Math.sqrt(alpha) * e - Math.sqrt(1 - alpha) * CLEAN[i]!)
    }

    const result = runAll(scheduler, noised(999), trueVelocity)

    expectClose(result, CLEAN, { atol: 2e-5 })
  })

  it.each<{ steps: number; finalSigmasType: FinalSigmasType; firstOrderLast: boolean }>([
    { steps: 20, finalSigmasType: 'sigma_min', firstOrderLast: false },
    { steps: 10, finalSigmasType: 'sigma_min', firstOrderLast: true },
    { steps: 20, finalSigmasType: 'zero', firstOrderLast: true },
  ])(
    'matches algorithm 2 for $steps steps to $finalSigmasType',
    ({ steps, finalSigmasType, firstOrderLast }) => {
      const c = 0.6
      const scheduler = createDpmSolverScheduler({
        config: SD_SCHEDULER_CONFIG,
        steps,
        finalSigmasType,
      })
      const initial = new Float32Array([1, -2, 0.5])

      const result = runAll(scheduler, initial, (sample) => sample.map((x) => c * x))

      const finalSigma = finalSigmasType === 'zero' ? 0 : sigmaTilde(0)
      const gain = referenceLinearRun({
        timesteps: scheduler.timesteps,
        c,
        finalSigma,
        firstOrderLast,
      })
      expectClose(
        result,
        Array.from(initial, (x) => x * gain),
        { rtol: 2e-5 }
      )
    }
  )

  it('converges at second order', () => {
    // With x̂_0 = k x the probability-flow ODE in λ has the exact solution
    // x_t / σ_t = (x_s / σ_s) exp(k (asinh(e^{λ_t}) − asinh(e^{λ_s}))), where e^λ = 1 / σ̃.
    const k = 0.7
    const config: SchedulerConfig = { ...SD_SCHEDULER_CONFIG, predictionType: 'sample' }
    const sigmaOf = (s: number) => s / Math.sqrt(s * s + 1)
    const errorFor = (steps: number) => {
      const scheduler = createDpmSolverScheduler({ config, steps, finalSigmasType: 'sigma_min' })
      const result = runAll(scheduler, new Float32Array([1]), (sample) => sample.map((x) => k * x))
      const start = sigmaTilde(scheduler.timesteps[0]!)
      const end = sigmaTilde(0)
      const exact =
        (sigmaOf(end) / sigmaOf(start)) *
        Math.exp(k * (Math.asinh(1 / end) - Math.asinh(1 / start)))
      return Math.abs(result[0]! - exact)
    }

    const errors = [40, 80, 160].map(errorFor)

    // Doubling the steps divides a second-order error by about 4 (a first-order one by 2).
    expect(errors[0]! / errors[1]!).toBeGreaterThan(3)
    expect(errors[1]! / errors[2]!).toBeGreaterThan(3)
  })

  it('rejects skipped step indices', () => {
    const scheduler = createDpmSolverScheduler({ config: SD_SCHEDULER_CONFIG, steps: 10 })
    const sample = new Float32Array([0.1])

    scheduler.step(new Float32Array([0]), 3, sample)

    expect(() => scheduler.step(new Float32Array([0]), 5, sample)).toThrow(RangeError)
  })
})
