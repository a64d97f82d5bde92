import { describe, expect, it } from 'vitest'

import {
  float16BitsToFloat32,
  float32ToFloat16Bits,
  fromFloat16Array,
  toFloat16Array,
} from '../../../../gpu-runner/tensor/float16.ts'

// Bit patterns derived by hand from the binary16 layout (sign, 5-bit exponent with bias 15,
// 10-bit mantissa): value = (1 + m/1024) · 2^(e−15) for normal numbers, m · 2^−24 below.
const ENCODE_CASES: ReadonlyArray<readonly [string, number, number]> = [
  ['one', 1, 0x3c00],
  ['minus two', -2, 0xc000],
  ['one half', 0.5, 0x3800],
  ['largest finite', 65504, 0x7bff],
  ['just below the overflow tie', 65519, 0x7bff],
  ['overflow tie rounds to infinity', 65520, 0x7c00],
  ['smallest normal', 2 ** -14, 0x0400],
  ['largest subnormal', 1023 * 2 ** -24, 0x03ff],
  ['smallest subnormal', 2 ** -24, 0x0001],
  ['subnormal 2^-20', 2 ** -20, 0x0010],
  ['half the smallest subnormal ties to zero', 2 ** -25, 0x0000],
  ['above half the smallest subnormal', 1.5 * 2 ** -25, 0x0001],
  ['subnormal tie to even upward', 3 * 2 ** -25, 0x0002],
  ['tie at one rounds to even', 1 + 2 ** -11, 0x3c00],
  ['tie above one rounds to even', 1 + 3 * 2 ** -11, 0x3c02],
  ['just above a tie rounds up', 1 + 2 ** -11 + 2 ** -20, 0x3c01],
  // 0.1 = 1.6 · 2^−4: exponent 11, mantissa 0.6 · 1024 = 614.4 → 614 = 0x266.
  ['one tenth', 0.1, 0x2e66],
  // 1/3 = 1.333… · 2^−2: exponent 13, mantissa 341.33… → 341 = 0x155.
  ['one third', 1 / 3, 0x3555],
  ['positive infinity', Infinity, 0x7c00],
  ['negative infinity', -Infinity, 0xfc00],
  ['negative zero', -0, 0x8000],
  ['float32 subnormal underflows', 1e-40, 0x0000],
]

const DECODE_CASES: ReadonlyArray<readonly [number, number]> = [
  [0x3c00, 1],
  [0x7bff, 65504],
  [0x0001, 2 ** -24],
  [0x03ff, 1023 * 2 ** -24],
  [0x0400, 2 ** -14],
  [0xc000, -2],
  [0x7c00, Infinity],
  [0xfc00, -Infinity],
  [0x3555, 0.333251953125],
]

// Independent reference: the nearest finite half by value, ties to the even bit pattern,
// with magnitudes from 65520 up going to infinity (IEEE 754 round-to-nearest-even).
// Finite non-negative halves increase with their bit pattern, so a binary search finds it.
const HALF_VALUES = Array.from({ length: 0x7c00 }, (_, bits) => float16BitsToFloat32(bits))

function referenceEncode(value: number): number {
  const f = Math.fround(value)
  const sign = f < 0 || Object.is(f, -0) ? 0x8000 : 0
  const magnitude = Math.abs(f)
  if (magnitude >= 65520) return sign | 0x7c00

  let low = 0
  let high = HALF_VALUES.length - 1
  while (high - low > 1) {
    const middle = (low + high) >> 1
    if ((HALF_VALUES[middle] as number) <= magnitude) low = middle
    else high = middle
  }
  const below = magnitude - (HALF_VALUES[low] as number)
  const above = (HALF_VALUES[high] as number) - magnitude
  if (below < above) return sign | low
  if (above < below) return sign | high
  return sign | ((low & 1) === 0 ? low : high)
}

describe('float32ToFloat16Bits', () => {
  it.each(ENCODE_CASES)('encodes %s', (_name, value, bits) => {
    expect(float32ToFloat16Bits(value)).toBe(bits)
  })

  it('encodes NaN as a NaN', () => {
    const bits = float32ToFloat16Bits(NaN)

    expect(bits & 0x7c00).toBe(0x7c00)
    expect(bits & 0x03ff).not.toBe(0)
  })

  it('matches nearest-even reference on samples', () => {
    // Values spread over the whole exponent range, from a fixed linear congruential sequence.
    let state = 12345
    const values: number[] = []
    for (let i = 0; i < 5000; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0
      const exponent = (state % 44) - 26
      values.push(((state / 2 ** 32) * 2 - 1) * 2 ** exponent)
    }

    const mismatches = values.filter(
      (value) => float32ToFloat16Bits(value) !== referenceEncode(value)
    )
    expect(mismatches).toEqual([])
  })
})

describe('float16BitsToFloat32', () => {
  it.each(DECODE_CASES)('decodes pattern %i', (bits, value) => {
    expect(float16BitsToFloat32(bits)).toBe(value)
  })

  it('decodes negative zero', () => {
    expect(Object.is(float16BitsToFloat32(0x8000), -0)).toBe(true)
  })

  it('decodes NaN patterns', () => {
    expect(float16BitsToFloat32(0x7e00)).toBeNaN()
    expect(float16BitsToFloat32(0xfc01)).toBeNaN()
  })

  it('round-trips every non-NaN pattern', () => {
    const mismatches: number[] = []
    for (let bits = 0; bits <= 0xffff; bits++) {
      const isNaN = (bits & 0x7c00) === 0x7c00 && (bits & 0x03ff) !== 0
      if (!isNaN && float32ToFloat16Bits(float16BitsToFloat32(bits)) !== bits) mismatches.push(bits)
    }
    expect(mismatches).toEqual([])
  })
})

describe('toFloat16Array and fromFloat16Array', () => {
  it('convert arrays element by element', () => {
    const values = Float32Array.from([1, -2, 0.1, 65520, 2 ** -24])
    const bits = toFloat16Array(values)

    expect(Array.from(bits)).toEqual([0x3c00, 0xc000, 0x2e66, 0x7c00, 0x0001])
    expect(Array.from(fromFloat16Array(bits))).toEqual([1, -2, 0.0999755859375, Infinity, 2 ** -24])
  })
})
