import { describe, expect, it } from 'vitest'

import {
  computeDdimTimesteps,
  createDdimScheduler,
} from '../../../../../gpu-runner/models/inpaint/ddim.ts'
import {
  SD_SCHEDULER_CONFIG,
  type DiffusionScheduler,
  type SchedulerConfig,
} from '../../../../../gpu-runner/models/inpaint/schedule.ts'
import { createNoiseGenerator } from '../../../../../gpu-runner/tensor/random.ts'
import { expectClose, referenceAlphaCumprod } from './expect-close.ts'

// Timestep lists were computed with numpy 2.4.6 from the expressions in diffusers 0.40.0.dev0
// `DDIMScheduler.set_timesteps` (num_train_timesteps 1000, steps_offset 1), for example
// (np.arange(0, n) * (1000 // n)).round()[::-1] + 1 for 'leading'.

const CLEAN = new Float32Array([0.8, -0.3, 1.7, -2.1, 0.05, 0.6])
const NOISE = new Float32Array([-1.1, 0.4, 0.9, 0.2, -0.5, 1.3])

/** Runs every step with a model that sees (sample, timestep) and returns its output. */
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

/** Noises CLEAN to timestep t with NOISE: sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) ε, in float64. */
function noised(t: number): Float32Array {
  const alpha = referenceAlphaCumprod(t)
  return CLEAN.map((x, i) => Math.sqrt(alpha) * x + Math.sqrt(1 - alpha) * NOISE[i]!)
}

/** The ε that maps the sample back onto CLEAN: (x_t − sqrt(ᾱ_t) x_0) / sqrt(1 − ᾱ_t). */
function trueNoise(sample: Float32Array, t: number): Float32Array {
  const alpha = referenceAlphaCumprod(t)
  return sample.map((x, i) => (x - Math.sqrt(alpha) * CLEAN[i]!) / Math.sqrt(1 - alpha))
}

describe('computeDdimTimesteps', () => {
  it('spaces 50 steps from 981 to 1', () => {
    const timesteps = computeDdimTimesteps(SD_SCHEDULER_CONFIG, 50)

    expect(timesteps).toHaveLength(50)
    expect(timesteps.slice(0, 3)).toEqual([981, 961, 941])
    expect(timesteps.slice(-3)).toEqual([41, 21, 1])
    expect(timesteps).toEqual(Array.from({ length: 50 }, (_, k) => 981 - 20 * k))
  })

  it('spaces other counts with leading', () => {
    expect(computeDdimTimesteps(SD_SCHEDULER_CONFIG, 20)).toEqual(
      Array.from({ length: 20 }, (_, k) => 951 - 50 * k)
    )
    expect(computeDdimTimesteps(SD_SCHEDULER_CONFIG, 3)).toEqual([667, 334, 1])
    expect(computeDdimTimesteps(SD_SCHEDULER_CONFIG, 1)).toEqual([1])
  })

  it('rounds linspace ties to even', () => {
    const config: SchedulerConfig = { ...SD_SCHEDULER_CONFIG, timestepSpacing: 'linspace' }

    expect(computeDdimTimesteps(config, 7)).toEqual([999, 832, 666, 500, 333, 166, 0])
  })

  it('follows numpy arange for trailing', () => {
    const config: SchedulerConfig = { ...SD_SCHEDULER_CONFIG, timestepSpacing: 'trailing' }

    expect(computeDdimTimesteps(config, 16)).toEqual([
      999, 937, 874, 811, 749, 687, 624, 561, 499, 437, 374, 311, 249, 187, 124, 61,
    ])
    // Index 3 is 936, not the 937 of round(1000 − 3 × 1000 / 48): numpy's arange lands just
    // below 937.5.
    expect(computeDdimTimesteps(config, 48).slice(0, 5)).toEqual([999, 978, 957, 936, 916])
  })

  it('drops numpy extra trailing value', () => {
    const config: SchedulerConfig = { ...SD_SCHEDULER_CONFIG, timestepSpacing: 'trailing' }

    const timesteps = computeDdimTimesteps(config, 61)

    // numpy yields 62 values for 61 steps, the last being timestep -1.
    expect(timesteps).toHaveLength(61)
    expect(timesteps.at(-1)).toBe(15)
  })

  it('rejects invalid step counts', () => {
    expect(() => computeDdimTimesteps(SD_SCHEDULER_CONFIG, 0)).toThrow(RangeError)
    expect(() => computeDdimTimesteps(SD_SCHEDULER_CONFIG, 1001)).toThrow(RangeError)
    // 1000 leading steps would start at timestep 1000, past the last trained timestep.
    expect(() => computeDdimTimesteps(SD_SCHEDULER_CONFIG, 1000)).toThrow(
      /timestep 1000 at index 0/
    )
  })
})

describe('createDdimScheduler', () => {
  it('scales samples when epsilon is 0', () => {
    const scheduler = createDdimScheduler({ config: SD_SCHEDULER_CONFIG, steps: 50 })
    const initial = new Float32Array([1, -0.5, 2.25])

    const result = runAll(scheduler, initial, (sample) => new Float32Array(sample.length))

    // With ε = 0 each step multiplies by sqrt(ᾱ_prev / ᾱ_t), so the product telescopes to
    // sqrt(ᾱ_final / ᾱ_981) with ᾱ_final = ᾱ_0 (setAlphaToOne false).
    const scale = Math.sqrt(referenceAlphaCumprod(0) / referenceAlphaCumprod(981))
    expectClose(
      result,
      Array.from(initial, (x) => x * scale),
      { rtol: 1e-5 }
    )
  })

  it('recovers x0 with the true noise', () => {
    const config: SchedulerConfig = { ...SD_SCHEDULER_CONFIG, setAlphaToOne: true }
    const scheduler = createDdimScheduler({ config, steps: 50 })

    const result = runAll(scheduler, noised(981), trueNoise)

    expectClose(result, CLEAN, { atol: 2e-5 })
  })

  it('ends at timestep 0 noise without alpha one', () => {
    const scheduler = createDdimScheduler({ config: SD_SCHEDULER_CONFIG, steps: 50 })

    const result = runAll(scheduler, noised(981), trueNoise)

    // The true noise stays ε along the path, so the last step lands on
    // sqrt(ᾱ_0) x_0 + sqrt(1 − ᾱ_0) ε.
    expectClose(result, noised(0), { atol: 2e-5 })
  })

  it('recovers x0 with the true velocity', () => {
    const config: SchedulerConfig = {
      ...SD_SCHEDULER_CONFIG,
      setAlphaToOne: true,
      predictionType: 'v_prediction',
    }
    const scheduler = createDdimScheduler({ config, steps: 25 })
    const trueVelocity = (sample: Float32Array, t: number) => {
      const alpha = referenceAlphaCumprod(t)
      const epsilon = trueNoise(sample, t)
      return epsilon.map((e, i) => Math.sqrt(alpha) * e - Math.sqrt(1 - alpha) * CLEAN[i]!)
    }

    const result = runAll(scheduler, noised(961), trueVelocity)

    expectClose(result, CLEAN, { atol: 2e-5 })
  })

  it('adds seeded variance with eta', () => {
    const scheduler = createDdimScheduler({
      config: SD_SCHEDULER_CONFIG,
      steps: 50,
      eta: 1,
      noise: createNoiseGenerator(7),
    })
    const sample = noised(981)
    const epsilon = new Float32Array([0.3, -0.2, 0.1, 0.5, -0.4, 0.25])
    const z = createNoiseGenerator(7).sampleNormal(sample.length)

    const result = scheduler.step(epsilon, 0, sample)

    // DDIM equations 12 and 16 with η = 1 from 981 to 961.
    const alphaT = referenceAlphaCumprod(981)
    const alphaPrev = referenceAlphaCumprod(961)
    const sigma = Math.sqrt(((1 - alphaPrev) / (1 - alphaT)) * (1 - alphaT / alphaPrev))
    const expected = Array.from(sample, (x, i) => {
      const x0 = (x - Math.sqrt(1 - alphaT) * epsilon[i]!) / Math.sqrt(alphaT)
      const direction = Math.sqrt(1 - alphaPrev - sigma ** 2) * epsilon[i]!
      return Math.sqrt(alphaPrev) * x0 + direction + sigma * z[i]!
    })
    expectClose(result, expected, { rtol: 1e-6, atol: 1e-6 })
  })

  it('clips predicted x0 when configured', () => {
    const config: SchedulerConfig = {
      ...SD_SCHEDULER_CONFIG,
      predictionType: 'sample',
      clipSample: true,
    }
    const scheduler = createDdimScheduler({ config, steps: 50 })
    const sample = new Float32Array([0.5, -0.5])
    const predicted = new Float32Array([3, -0.25])

    const result = scheduler.step(predicted, 0, sample)

    // x̂_0 = 3 clips to 1 while ε̂ keeps its unclipped value, as diffusers does by default.
    const alphaT = referenceAlphaCumprod(981)
    const alphaPrev = referenceAlphaCumprod(961)
    const expected = [0, 1].map((i) => {
      const epsilon = (sample[i]! - Math.sqrt(alphaT) * predicted[i]!) / Math.sqrt(1 - alphaT)
      const x0 = Math.min(Math.max(predicted[i]!, -1), 1)
      return Math.sqrt(alphaPrev) * x0 + Math.sqrt(1 - alphaPrev) * epsilon
    })
    expectClose(result, expected, { rtol: 1e-6 })
  })

  it('requires noise for eta', () => {
    expect(() => createDdimScheduler({ config: SD_SCHEDULER_CONFIG, steps: 10, eta: 0.5 })).toThrow(
      RangeError
    )
  })
})
