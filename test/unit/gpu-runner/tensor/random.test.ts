import { describe, expect, it } from 'vitest'

import {
  createNoiseGenerator,
  MAX_SEED,
  philox4x32,
  pickSeed,
  resolveSeed,
} from '../../../../gpu-runner/tensor/random.ts'

const SAMPLE_COUNT = 100_000

/**
 * Box–Muller on one Philox block, written with BigInt for the 53-bit uniforms so that it does
 * not share the module's bit arithmetic.
 */
function boxMullerFromBlock(words: readonly number[]): [number, number] {
  const toUniform = (hi: number, lo: number) =>
    Number(((BigInt(hi) >> 5n) << 26n) | (BigInt(lo) >> 6n)) / 2 ** 53
  const u1 = toUniform(words[0]!, words[1]!)
  const u2 = toUniform(words[2]!, words[3]!)
  const radius = Math.sqrt(-2 * Math.log(1 - u1))
  return [
    Math.fround(radius * Math.cos(2 * Math.PI * u2)),
    Math.fround(radius * Math.sin(2 * Math.PI * u2)),
  ]
}

describe('philox4x32', () => {
  // Known-answer vectors of Philox4x32-10 from Random123's kat_vectors file, the reference
  // distribution of Salmon et al. (2011). TensorFlow's Philox tests use the same three.
  const KNOWN_ANSWERS = [
    {
      counter: [0, 0, 0, 0],
      key: [0, 0],
      output: [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
    },
    {
      counter: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      key: [0xffffffff, 0xffffffff],
      output: [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    },
    {
      counter: [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      key: [0xa4093822, 0x299f31d0],
      output: [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    },
  ] as const

  it.each(KNOWN_ANSWERS)('matches Random123 vector %#', ({ counter, key, output }) => {
    expect(philox4x32(counter, key)).toEqual(output)
  })
})

describe('createNoiseGenerator', () => {
  it('derives seed 0 from block 0', () => {
    // Seed 0 is key [0, 0] and block 0 is counter [0, 0, 0, 0]: the first known-answer vector.
    const expected = boxMullerFromBlock([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8])

    const samples = createNoiseGenerator(0).sampleNormal(2)

    expect(Array.from(samples)).toEqual(expected)
  })

  it('keys seeds above 2^32 with both words', () => {
    const seed = 2 ** 32 + 5
    const expected = boxMullerFromBlock(philox4x32([1, 0, 0, 0], [5, 1]))

    const samples = createNoiseGenerator(seed).sampleNormal(4)

    expect(Array.from(samples.subarray(2))).toEqual(expected)
  })

  it('repeats the stream for a seed', () => {
    const first = createNoiseGenerator(1234).sampleNormal(1000)
    const second = createNoiseGenerator(1234).sampleNormal(1000)
    const other = createNoiseGenerator(1235).sampleNormal(1000)

    expect(second).toEqual(first)
    expect(other).not.toEqual(first)
  })

  it('continues the stream across calls', () => {
    const whole = createNoiseGenerator(9).sampleNormal(8)
    const generator = createNoiseGenerator(9)

    const head = generator.sampleNormal(3)
    const tail = generator.sampleNormal(4)

    // The odd call drops the second normal of its last block, so the next call starts at 4.
    expect(Array.from(head)).toEqual(Array.from(whole.subarray(0, 3)))
    expect(Array.from(tail)).toEqual(Array.from(whole.subarray(4, 8)))
  })

  it('has standard normal moments', () => {
    const samples = createNoiseGenerator(20240601).sampleNormal(SAMPLE_COUNT)
    let sum = 0
    let sumSquares = 0
    let withinOne = 0
    let beyondThree = 0
    for (const value of samples) {
      sum += value
      sumSquares += value * value
      if (Math.abs(value) <= 1) withinOne += 1
      if (Math.abs(value) > 3) beyondThree += 1
    }
    const mean = sum / SAMPLE_COUNT
    const variance = sumSquares / SAMPLE_COUNT - mean ** 2

    // Each bound is five standard errors for n = 1e5 draws of N(0, 1): the mean's is
    // 1/√n = 0.0032, the variance's √(2/n) = 0.0045, and a fraction p's √(p(1 − p)/n)
    // with P(|z| ≤ 1) = 0.6827 and P(|z| > 3) = 0.0027.
    expect(Math.abs(mean)).toBeLessThan(0.016)
    expect(Math.abs(variance - 1)).toBeLessThan(0.023)
    expect(Math.abs(withinOne / SAMPLE_COUNT - 0.6827)).toBeLessThan(0.0074)
    expect(Math.abs(beyondThree / SAMPLE_COUNT - 0.0027)).toBeLessThan(0.00083)
  })

  it('rejects invalid seeds', () => {
    expect(() => createNoiseGenerator(-1)).toThrow(RangeError)
    expect(() => createNoiseGenerator(1.5)).toThrow(RangeError)
    expect(() => createNoiseGenerator(2 ** 53)).toThrow(RangeError)
  })
})

describe('resolveSeed', () => {
  it('keeps a given seed', () => {
    expect(resolveSeed(0)).toBe(0)
    expect(resolveSeed(MAX_SEED)).toBe(MAX_SEED)
  })

  it('picks a uint32 seed when absent', () => {
    const seeds = Array.from({ length: 8 }, () => resolveSeed())

    for (const seed of seeds) {
      expect(Number.isInteger(seed)).toBe(true)
      expect(seed).toBeGreaterThanOrEqual(0)
      expect(seed).toBeLessThanOrEqual(MAX_SEED)
    }
    // Eight equal draws from 2^32 values would mean the source is not random.
    expect(new Set(seeds).size).toBeGreaterThan(1)
  })

  it('picks seeds the generator accepts', () => {
    expect(() => createNoiseGenerator(pickSeed())).not.toThrow()
  })
})
