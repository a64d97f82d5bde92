/**
 * Bounding boxes of masks, found with 32-bit word scans so that a mostly empty 12-megapixel
 * mask costs a few milliseconds.
 */
import type { GrayMask } from '../image/types.ts'
import type { PixelBox } from '../pipeline/types.ts'

/** A byte test that can also run on four bytes at once. */
interface ByteTest {
  /** Smallest byte value that counts. */
  readonly minimum: number
  /** Bits that, set in a 32-bit word, mean one of its bytes counts. */
  readonly wordBits: number
}

/** Bytes of 128 and above: the high bit of each byte. */
const AT_LEAST_HALF: ByteTest = { minimum: 128, wordBits: 0x80808080 | 0 }

/** Every non-zero byte. */
const NON_ZERO: ByteTest = { minimum: 1, wordBits: 0xffffffff | 0 }

/**
 * Finds the bounding box of the pixels at or above 128, the entity threshold (0.5 of 255).
 *
 * @returns `[x0, y0, x1, y1]` with x1 and y1 exclusive, or undefined for an empty mask.
 */
export function maskBounds(mask: GrayMask): PixelBox | undefined {
  return boundsOf(mask, AT_LEAST_HALF)
}

/**
 * Finds the bounding box of the non-zero pixels, such as every pixel a blend alpha touches.
 *
 * @returns `[x0, y0, x1, y1]` with x1 and y1 exclusive, or undefined for an all-zero mask.
 */
export function nonZeroBounds(mask: GrayMask): PixelBox | undefined {
  return boundsOf(mask, NON_ZERO)
}

function boundsOf(mask: GrayMask, test: ByteTest): PixelBox | undefined {
  const { data, width, height } = mask
  if (data.length !== width * height) {
    throw new RangeError(`mask has ${data.length} bytes, expected ${width}×${height}`)
  }

  let x0 = width
  let x1 = 0
  let y0 = height
  let y1 = 0
  for (let y = 0; y < height; y++) {
    const row = y * width
    const left = firstMatch(data, row, row + width, test)
    if (left < 0) continue
    const right = lastMatch(data, left, row + width, test)
    x0 = Math.min(x0, left - row)
    x1 = Math.max(x1, right - row + 1)
    if (y0 === height) y0 = y
    y1 = y + 1
  }
  return y1 === 0 ? undefined : [x0, y0, x1, y1]
}

/** Returns the index of the first matching byte in [start, end), or -1. */
function firstMatch(data: Uint8Array, start: number, end: number, test: ByteTest): number {
  let i = start
  const misalignment = (data.byteOffset + i) % 4
  const headEnd = Math.min(end, misalignment === 0 ? i : i + 4 - misalignment)
  for (; i < headEnd; i++) if (data[i]! >= test.minimum) return i

  const wordCount = (end - i) >> 2
  if (wordCount > 0) {
    const words = new Uint32Array(data.buffer, data.byteOffset + i, wordCount)
    let w = 0
    while (w < wordCount && (words[w]! & test.wordBits) === 0) w++
    i += w * 4
  }
  for (; i < end; i++) if (data[i]! >= test.minimum) return i
  return -1
}

/** Returns the index of the last matching byte in [start, end); data[start] must match. */
function lastMatch(data: Uint8Array, start: number, end: number, test: ByteTest): number {
  let i = end - 1
  const tailStart = Math.max(start, i - ((data.byteOffset + end) % 4) + 1)
  for (; i >= tailStart; i--) if (data[i]! >= test.minimum) return i

  const wordCount = (i + 1 - start) >> 2
  if (wordCount > 0) {
    const first = i + 1 - wordCount * 4
    const words = new Uint32Array(data.buffer, data.byteOffset + first, wordCount)
    let w = wordCount - 1
    while (w >= 0 && (words[w]! & test.wordBits) === 0) w--
    i = first + (w + 1) * 4 - 1
  }
  while (data[i]! < test.minimum) i--
  return i
}
