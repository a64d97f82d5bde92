/** Element-wise closeness checks for the scheduler tests. */
import { expect } from 'vitest'

/** Absolute and relative tolerance: |actual − expected| ≤ atol + rtol × |expected|. */
export interface Tolerance {
  readonly atol?: number
  readonly rtol?: number
}

/**
 * Asserts that two arrays have the same length and close values, where NaN matches only NaN. The
 * failure message names the first index out of tolerance.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 0, rtol = 0 }: Tolerance
): void {
  expect(actual.length).toBe(expected.length)
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!
    const e = expected[i]!
    const isClose = Number.isNaN(e) ? Number.isNaN(a) : Math.abs(a - e) <= atol + rtol * Math.abs(e)
    if (!isClose) {
      expect.fail(`index ${i}: ${a} is not within atol ${atol}, rtol ${rtol} of ${e}`)
    }
  }
}

/**
 * Computes ᾱ_t for the Stable Diffusion schedule with a plain float64 loop, written apart
 * from the module under test: β_i = (√0.00085 + i (√0.012 − √0.00085) / 999)², ᾱ_t = ∏ (1 − β_i).
 */
export function referenceAlphaCumprod(t: number, betaStart = 0.00085, betaEnd = 0.012): number {
  const first = Math.sqrt(betaStart)
  const last = Math.sqrt(betaEnd)
  let product = 1
  for (let i = 0; i <= t; i++) {
    const beta = (first + (i * (last - first)) / 999) ** 2
    product *= 1 - beta
  }
  return product
}
