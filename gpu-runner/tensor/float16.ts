/**
 * IEEE 754 binary16 (half precision) conversion, because Node 20 has no Float16Array and
 * ONNX Runtime hands float16 tensors over as Uint16Array bit patterns.
 *
 * Layout of a half: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits. Largest finite
 * value 65504, smallest normal 2^-14, smallest subnormal 2^-24.
 */

const scratchFloat = new Float32Array(1)
const scratchBits = new Uint32Array(scratchFloat.buffer)

/**
 * Converts one number to float16 bits, rounding to nearest with ties to even.
 *
 * The number is first rounded to float32, so the result is that of converting the float32
 * value. Overflow gives ±infinity, underflow gives subnormals or ±0, and NaN stays a quiet NaN.
 *
 * @example float32ToFloat16Bits(1) === 0x3c00
 */
export function float32ToFloat16Bits(value: number): number {
  scratchFloat[0] = value
  const bits = scratchBits[0] as number
  const sign = (bits >>> 16) & 0x8000
  const exponent = (bits >>> 23) & 0xff
  const mantissa = bits & 0x7fffff

  if (exponent === 0xff) {
    // Keep NaN a NaN even when its payload sits only in the low 13 bits.
    return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13)
  }

  const halfExponent = exponent - 127 + 15
  if (halfExponent >= 0x1f) return sign | 0x7c00
  if (halfExponent >= 1) {
    // A carry out of the mantissa correctly bumps the exponent, up to infinity.
    return sign | ((halfExponent << 10) + roundShift(mantissa, 13))
  }
  if (halfExponent < -10) return sign

  // Subnormal half: shift the float32 significand, implicit bit included, into 10 bits.
  return sign | roundShift(mantissa | 0x800000, 14 - halfExponent)
}

/** Shifts `value` right by `shift` bits, rounding to nearest with ties to even. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift
  const remainder = value & ((1 << shift) - 1)
  const half = 1 << (shift - 1)
  const roundUp = remainder > half || (remainder === half && (kept & 1) === 1)

  return roundUp ? kept + 1 : kept
}

/** Converts float16 bits to the number they encode; every half is exact as a float32. */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >>> 10) & 0x1f
  const mantissa = bits & 0x3ff

  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN

  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15)
}

/** Converts float32 values to float16 bit patterns, element by element. */
export function toFloat16Array(values: Float32Array | readonly number[]): Uint16Array {
  const result = new Uint16Array(values.length)
  for (let i = 0; i < values.length; i++) {
    result[i] = float32ToFloat16Bits(values[i] as number)
  }
  return result
}

let halfTable: Float32Array | undefined

/** Converts float16 bit patterns to float32 values, element by element. */
export function fromFloat16Array(bits: Uint16Array): Float32Array {
  // A 65536-entry table (256 KiB) turns each conversion into one lookup.
  halfTable ??= Float32Array.from({ length: 0x10000 }, (_, i) => float16BitsToFloat32(i))
  const result = new Float32Array(bits.length)
  for (let i = 0; i < bits.length; i++) {
    result[i] = halfTable[bits[i] as number] as number
  }
  return result
}
