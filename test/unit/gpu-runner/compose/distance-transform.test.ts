import { describe, expect, it } from 'vitest'

import {
  mapSquaredDistances,
  type SourceSide,
} from '../../../../gpu-runner/compose/distance-transform.ts'
import type { GrayMask } from '../../../../gpu-runner/image/types.ts'
import type { PixelBox } from '../../../../gpu-runner/pipeline/types.ts'
import { makeMask, makeRandomMask } from './make-rasters.ts'

/**
 * Runs mapSquaredDistances with an identity table, so each region pixel of the output is its
 * squared distance; caps up to 15 keep cap² within a byte. Pixels outside the region must stay
 * at the target's fill value 254.
 */
function distancesOf(mask: GrayMask, region: PixelBox, sources: SourceSide, cap: number): number[] {
  const byteOfSquared = Uint8Array.from({ length: cap * cap + 1 }, (_, d) => d)
  const target = new Uint8Array(mask.width * mask.height).fill(254)

  mapSquaredDistances(mask, { region, sources, cap, byteOfSquared, target })

  const [x0, y0, x1, y1] = region
  const inside: number[] = []
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      const value = target[y * mask.width + x]!
      if (x >= x0 && x < x1 && y >= y0 && y < y1) inside.push(value)
      else expect(value).toBe(254)
    }
  }
  return inside
}

/** Reference: min over the region's source pixels of dx² + dy², by exhaustive search, capped. */
function bruteForce(mask: GrayMask, region: PixelBox, sources: SourceSide, cap: number): number[] {
  const [x0, y0, x1, y1] = region
  const isSource = (x: number, y: number): boolean =>
    mask.data[y * mask.width + x]! >= 128 === (sources === 'inside')
  const out: number[] = []
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      let best = cap * cap
      for (let sy = y0; sy < y1; sy++) {
        for (let sx = x0; sx < x1; sx++) {
          if (isSource(sx, sy)) best = Math.min(best, (x - sx) ** 2 + (y - sy) ** 2)
        }
      }
      out.push(best)
    }
  }
  return out
}

describe('scanSquaredDistances', () => {
  it('matches exhaustive search', () => {
    for (const [width, height, density, cap] of [
      [23, 17, 0.02, 15],
      [23, 17, 0.02, 4],
      [31, 9, 0.2, 3],
      [60, 13, 0.6, 5],
      [1, 40, 0.05, 15],
      [40, 1, 0.05, 15],
      [16, 16, 0.5, 1],
    ] as const) {
      const mask = makeRandomMask(width, height, density, width * 1000 + cap)
      const full: PixelBox = [0, 0, width, height]

      for (const sources of ['inside', 'outside'] as const) {
        expect(distancesOf(mask, full, sources, cap)).toEqual(bruteForce(mask, full, sources, cap))
      }
    }
  })

  it('matches exhaustive search past 255', () => {
    // Caps above 255 keep vertical distances in 16 bits. The table maps d² to d² mod 251 so
    // that it fits in a byte, and a wrong d² shows unless it is off by a multiple of 251.
    const mask = makeRandomMask(300, 6, 0.004, 31)
    const cap = 260
    const byteOfSquared = Uint8Array.from({ length: cap * cap + 1 }, (_, d) => d % 251)
    const target = new Uint8Array(300 * 6)

    mapSquaredDistances(mask, {
      region: [0, 0, 300, 6],
      sources: 'inside',
      cap,
      byteOfSquared,
      target,
    })

    const expected = bruteForce(mask, [0, 0, 300, 6], 'inside', cap).map((d) => d % 251)
    expect(Array.from(target)).toEqual(expected)
  })

  it('counts only sources inside the region', () => {
    const mask = makeRandomMask(30, 20, 0.03, 7)
    const region: PixelBox = [4, 3, 27, 18]

    expect(distancesOf(mask, region, 'inside', 15)).toEqual(bruteForce(mask, region, 'inside', 15))
  })

  it('reports cap squared without sources', () => {
    expect(distancesOf(makeMask(4, 3), [0, 0, 4, 3], 'inside', 5)).toEqual(new Array(12).fill(25))
  })

  it('treats bytes from 128 as inside', () => {
    const mask: GrayMask = { data: Uint8Array.from([127, 128, 0]), width: 3, height: 1 }

    expect(distancesOf(mask, [0, 0, 3, 1], 'inside', 9)).toEqual([1, 0, 1])
    expect(distancesOf(mask, [0, 0, 3, 1], 'outside', 9)).toEqual([0, 1, 0])
  })

  it('measures from a single source', () => {
    const mask = makeMask(7, 5, [[3, 2]])

    const squared = distancesOf(mask, [0, 0, 7, 5], 'inside', 15)

    expect(squared[2 * 7 + 3]).toBe(0)
    expect(squared[0]).toBe(3 * 3 + 2 * 2)
    expect(squared[4 * 7 + 6]).toBe(3 * 3 + 2 * 2)
    expect(squared[2 * 7 + 6]).toBe(9)
  })

  it('rejects a region outside the mask', () => {
    expect(() => distancesOf(makeMask(4, 4), [0, 0, 5, 4], 'inside', 1)).toThrow(RangeError)
  })

  it('rejects a non-integer cap', () => {
    const mapping = {
      region: [0, 0, 4, 4] as const,
      sources: 'inside' as const,
      cap: 1.5,
      byteOfSquared: new Uint8Array(4),
      target: new Uint8Array(16),
    }

    expect(() => mapSquaredDistances(makeMask(4, 4), mapping)).toThrow(/cap/)
  })

  it('rejects a table of the wrong length', () => {
    const mapping = {
      region: [0, 0, 4, 4] as const,
      sources: 'inside' as const,
      cap: 3,
      byteOfSquared: new Uint8Array(9),
      target: new Uint8Array(16),
    }

    expect(() => mapSquaredDistances(makeMask(4, 4), mapping)).toThrow(/cap² \+ 1/)
  })
})
