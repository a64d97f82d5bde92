import { describe, expect, it } from 'vitest'

import {
  addNoise,
  assertSchedulerConfig,
  computeAlphasCumprod,
  computeStartIndex,
  linspace,
  roundHalfEven,
  SD_SCHEDULER_CONFIG,
  type SchedulerConfig,
} from '../../../../../gpu-runner/models/inpaint/schedule.ts'
import { expectClose, referenceAlphaCumprod } from './expect-close.ts'

describe('computeAlphasCumprod', () => {
  const INDICES = [0, 1, 20, 500, 721, 980, 999]

  it('matches a plain float64 product', () => {
    const alphasCumprod = computeAlphasCumprod(SD_SCHEDULER_CONFIG)

    expect(alphasCumprod).toHaveLength(1000)
    expectClose(
      INDICES.map((t) => alphasCumprod[t]!),
      INDICES.map((t) => referenceAlphaCumprod(t)),
      { rtol: 1e-12 }
    )
  })

  it('matches values recorded with numpy', () => {
    // numpy 2.4.6, float64: np.cumprod(1 - np.linspace(0.00085**0.5, 0.012**0.5, 1000)**2),
    // printed at the indices above.
    const recorded = [
      0.99915, 0.9982960278384514, 0.981314362200552, 0.2763326838229746, 0.07051369388070967,
      0.005843783318683297, 0.004660098513077238,
    ]

    const alphasCumprod = computeAlphasCumprod(SD_SCHEDULER_CONFIG)

    expectClose(
      INDICES.map((t) => alphasCumprod[t]!),
      recorded,
      { rtol: 1e-13 }
    )
  })

  it('spaces betas linearly for linear', () => {
    const config: SchedulerConfig = { ...SD_SCHEDULER_CONFIG, betaSchedule: 'linear' }
    const step = (0.012 - 0.00085) / 999

    const alphasCumprod = computeAlphasCumprod(config)

    expectClose(
      [alphasCumprod[0]!, alphasCumprod[1]!],
      [1 - 0.00085, (1 - 0.00085) * (1 - (0.00085 + step))],
      {
        rtol: 1e-14,
      }
    )
  })
})

describe('computeStartIndex', () => {
  it('skips the first steps for strength below 1', () => {
    // floor(50 × 0.75) = 37 noised steps, so the run starts at index 50 − 37.
    expect(computeStartIndex(50, 0.75)).toBe(13)
    expect(computeStartIndex(10, 0.55)).toBe(5)
  })

  it('starts at 0 for strength 1', () => {
    expect(computeStartIndex(50, 1)).toBe(0)
  })

  it('leaves no step for tiny products', () => {
    expect(computeStartIndex(2, 0.3)).toBe(2)
  })

  it('rejects strength outside (0, 1]', () => {
    expect(() => computeStartIndex(50, 0)).toThrow(RangeError)
    expect(() => computeStartIndex(50, 1.5)).toThrow(RangeError)
  })
})

describe('addNoise', () => {
  it('mixes samples and noise by alphaCumprod', () => {
    const original = new Float32Array([0.5, -1.25, 2])
    const noise = new Float32Array([1, 0.25, -0.75])
    const alphaCumprod = 0.3
    const expected = Array.from(original, (x, i) =>
      Math.fround(Math.sqrt(0.3) * x + Math.sqrt(0.7) * noise[i]!)
    )

    expect(Array.from(addNoise(original, noise, alphaCumprod))).toEqual(expected)
  })

  it('rejects mismatched lengths', () => {
    expect(() => addNoise(new Float32Array(3), new Float32Array(2), 0.5)).toThrow(RangeError)
  })
})

describe('roundHalfEven', () => {
  it('rounds ties to even', () => {
    expect([0.5, 1.5, 2.5, 166.5, 832.5].map(roundHalfEven)).toEqual([0, 2, 2, 166, 832])
  })

  it('rounds other values to nearest', () => {
    expect([2.4, 2.6, 499.49999999999994, 7].map(roundHalfEven)).toEqual([2, 3, 499, 7])
  })
})

describe('linspace', () => {
  it('matches numpy endpoints and ties', () => {
    // numpy 2.4.6: np.linspace(0, 999, 7)
    expect(linspace(0, 999, 7)).toEqual([0, 166.5, 333, 499.5, 666, 832.5, 999])
  })

  it('returns the start for one value', () => {
    expect(linspace(0, 999, 1)).toEqual([0])
  })
})

describe('assertSchedulerConfig', () => {
  it('accepts the Stable Diffusion config', () => {
    expect(() => assertSchedulerConfig(SD_SCHEDULER_CONFIG)).not.toThrow()
  })

  it('rejects unknown prediction types', () => {
    const config = { ...SD_SCHEDULER_CONFIG, predictionType: 'flow' } as unknown as SchedulerConfig

    expect(() => assertSchedulerConfig(config)).toThrow(
      'predictionType "flow" is not supported. Supported: epsilon, v_prediction, sample.'
    )
  })

  it('rejects inverted betas', () => {
    const config = { ...SD_SCHEDULER_CONFIG, betaStart: 0.02, betaEnd: 0.01 }

    expect(() => assertSchedulerConfig(config)).toThrow(RangeError)
  })
})
