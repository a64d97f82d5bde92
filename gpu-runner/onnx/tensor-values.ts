/**
 * Conversion of caller values to the typed array an input's element type needs, and of float
 * output data back to Float32Array.
 */
import type { TensorDtype } from '../models/contracts.ts'
import { fromFloat16Array, toFloat16Array } from '../tensor/float16.ts'

/** Values `makeTensor` accepts; integers are required for int32 and int64 inputs. */
export type TensorValues = Float32Array | Int32Array | BigInt64Array | readonly number[]

/** Typed array ORT takes for each element type; float16 travels as raw bits. */
export type TensorData = Float32Array | Uint16Array | Int32Array | BigInt64Array

const INT32_MIN = -(2 ** 31)
const INT32_MAX = 2 ** 31 - 1

/**
 * Converts `values` to the typed array for `dtype`.
 *
 * @param label Names the input in error messages, for example `unet.timestep`.
 * @throws TypeError when float input gets a BigInt64Array; RangeError when integer input gets a
 *   fraction or a value outside the type's range.
 */
export function convertValues(dtype: TensorDtype, values: TensorValues, label: string): TensorData {
  switch (dtype) {
    case 'float32':
    case 'float16': {
      if (values instanceof BigInt64Array) {
        throw new TypeError(`${label} takes float values, got a BigInt64Array.`)
      }
      const floats = values instanceof Float32Array ? values : Float32Array.from(values)
      return dtype === 'float32' ? floats : toFloat16Array(floats)
    }
    case 'int32':
      if (values instanceof Int32Array) return values
      return Int32Array.from(toIntegers(values, label, INT32_MIN, INT32_MAX))
    case 'int64':
      if (values instanceof BigInt64Array) return values
      return BigInt64Array.from(
        toIntegers(values, label, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
        BigInt
      )
    default: {
      const unreachable: never = dtype
      throw new TypeError(`Unsupported dtype ${String(unreachable)}`)
    }
  }
}

function toIntegers(
  values: Float32Array | Int32Array | BigInt64Array | readonly number[],
  label: string,
  min: number,
  max: number
): number[] {
  const numbers = Array.from(values as ArrayLike<number | bigint>, Number)
  const bad = numbers.findIndex((value) => !Number.isInteger(value) || value < min || value > max)
  if (bad >= 0) {
    throw new RangeError(
      `${label} takes integers in [${min}, ${max}]; value ${bad} is ${numbers[bad]}.`
    )
  }
  return numbers
}

/**
 * Reads float32 or float16 tensor data as a Float32Array.
 *
 * @throws TypeError for any other element type.
 */
export function floatsFromTensorData(type: string, data: unknown): Float32Array {
  if (type === 'float32' && data instanceof Float32Array) return data
  if (type === 'float16') {
    // Node 20 has no Float16Array, so ORT hands float16 data over as raw bits.
    if (data instanceof Uint16Array) return fromFloat16Array(data)
    return Float32Array.from(data as ArrayLike<number>)
  }
  throw new TypeError(`Expected a float32 or float16 tensor, got ${type}.`)
}
