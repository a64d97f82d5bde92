import { describe, expect, it } from 'vitest'

import { maskBounds, nonZeroBounds } from '../../../../gpu-runner/compose/bounds.ts'
import type { GrayMask } from '../../../../gpu-runner/image/types.ts'
import type { PixelBox } from '../../../../gpu-runner/pipeline/types.ts'
import { makeMask, makeRandom } from './make-rasters.ts'

/** Reference: the box of the bytes at or above `minimum`, by checking each pixel. */
function boundsByScan(mask: GrayMask, minimum: number): PixelBox | undefined {
  let box: [number, number, number, number] | undefined
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if (mask.data[y * mask.width + x]! < minimum) continue
      box = box
        ? [
            Math.min(box[0], x),
            Math.min(box[1], y),
            Math.max(box[2], x + 1),
            Math.max(box[3], y + 1),
          ]
        : [x, y, x + 1, y + 1]
    }
  }
  return box
}

/** Builds a sparse mask of random bytes at `offset` in its buffer, to vary the alignment. */
function makeSparseMask(width: number, height: number, seed: number, offset: number): GrayMask {
  const next = makeRandom(seed)
  const data = new Uint8Array(offset + width * height).subarray(offset)
  const count = next() % 6
  for (let k = 0; k < count; k++) data[next() % data.length] = next() & 0xff
  return { data, width, height }
}

describe('maskBounds', () => {
  it('returns undefined for an empty mask', () => {
    expect(maskBounds(makeMask(9, 4))).toBeUndefined()
  })

  it('ignores bytes below 128', () => {
    const mask = makeMask(9, 4)
    mask.data[5] = 127

    expect(maskBounds(mask)).toBeUndefined()
  })

  it('finds an exclusive box', () => {
    const mask = makeMask(9, 7, [
      [2, 5],
      [6, 1],
      [4, 3],
    ])

    expect(maskBounds(mask)).toEqual([2, 1, 7, 6])
  })

  it('matches a pixel scan at any alignment', () => {
    for (let seed = 0; seed < 300; seed++) {
      const mask = makeSparseMask(1 + (seed % 23), 1 + (seed % 7), seed, seed % 4)

      expect(maskBounds(mask), `seed ${seed}`).toEqual(boundsByScan(mask, 128))
    }
  })
})

describe('nonZeroBounds', () => {
  it('counts every non-zero byte', () => {
    const mask = makeMask(10, 3)
    mask.data[1 * 10 + 8] = 1

    expect(nonZeroBounds(mask)).toEqual([8, 1, 9, 2])
    expect(maskBounds(mask)).toBeUndefined()
  })

  it('matches a pixel scan at any alignment', () => {
    for (let seed = 0; seed < 300; seed++) {
      const mask = makeSparseMask(1 + (seed % 29), 1 + (seed % 5), seed + 1000, seed % 4)

      expect(nonZeroBounds(mask), `seed ${seed}`).toEqual(boundsByScan(mask, 1))
    }
  })

  it('rejects a size mismatch', () => {
    expect(() => nonZeroBounds({ data: new Uint8Array(5), width: 2, height: 2 })).toThrow(
      RangeError
    )
  })
})
