import { describe, expect, it } from 'vitest'

import { maskBounds } from '../../../../gpu-runner/compose/bounds.ts'
import {
  expandBox,
  featherMask,
  growAndFeather,
  growMask,
  MAX_RADIUS_PX,
} from '../../../../gpu-runner/compose/mask-ops.ts'
import type { GrayMask } from '../../../../gpu-runner/image/types.ts'
import { makeEllipseMask, makeMask, makeRandomMask } from './make-rasters.ts'

/** Reference disc dilation by exhaustive search: 255 where some mask pixel is within radius. */
function dilateByDisc(mask: GrayMask, radius: number): Uint8Array {
  const { data, width, height } = mask
  const out = new Uint8Array(width * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      search: for (let dy = -radius; dy <= radius; dy++) {
        for (let dx = -radius; dx <= radius; dx++) {
          const sx = x + dx
          const sy = y + dy
          if (sx < 0 || sy < 0 || sx >= width || sy >= height) continue
          if (dx * dx + dy * dy <= radius * radius && data[sy * width + sx]! >= 128) {
            out[y * width + x] = 255
            break search
          }
        }
      }
    }
  }
  return out
}

/** Reference feather by exhaustive search: the ramp of the distance to the nearest pixel off the mask. */
function featherByFormula(grown: GrayMask, featherPx: number): Uint8Array {
  const { data, width, height } = grown
  const out = new Uint8Array(width * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x]! < 128) continue
      let best = Infinity
      for (let sy = 0; sy < height; sy++) {
        for (let sx = 0; sx < width; sx++) {
          if (data[sy * width + sx]! < 128) best = Math.min(best, Math.hypot(sx - x, sy - y))
        }
      }
      const t = featherPx === 0 ? 1 : best / featherPx
      out[y * width + x] = Math.round(255 * Math.min(1, Math.max(0, t)))
    }
  }
  return out
}

describe('growMask', () => {
  it('grows one pixel into an exact disc', () => {
    for (const radius of [1, 2, 3, 5, 8, 13]) {
      const size = 2 * radius + 7
      const centre = radius + 3
      const grown = growMask(makeMask(size, size, [[centre, centre]]), radius)

      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const inside = (x - centre) ** 2 + (y - centre) ** 2 <= radius * radius
          expect(grown.data[y * size + x], `r=${radius} at (${x}, ${y})`).toBe(inside ? 255 : 0)
        }
      }
    }
  })

  it('binarises at radius 0', () => {
    const mask = makeMask(4, 1)
    mask.data.set([0, 127, 128, 255])

    expect(Array.from(growMask(mask, 0).data)).toEqual([0, 0, 255, 255])
  })

  it('matches exhaustive dilation', () => {
    for (const [radius, density] of [
      [1, 0.01],
      [4, 0.005],
      [6, 0.3],
      [11, 0.002],
    ] as const) {
      const mask = makeRandomMask(37, 29, density, radius)

      expect(Array.from(growMask(mask, radius).data)).toEqual(
        Array.from(dilateByDisc(mask, radius))
      )
    }
  })

  it('clips at the image border', () => {
    const grown = growMask(makeMask(6, 5, [[0, 0]]), 3)

    expect(maskBounds(grown)).toEqual([0, 0, 4, 4])
    expect(Array.from(grown.data)).toEqual(Array.from(dilateByDisc(makeMask(6, 5, [[0, 0]]), 3)))
  })

  it('returns an empty mask for an empty input', () => {
    expect(growMask(makeMask(5, 5), 4).data.every((v) => v === 0)).toBe(true)
  })

  it('rejects a fractional radius', () => {
    expect(() => growMask(makeMask(5, 5), 1.5)).toThrow(/radiusPx/)
  })

  it('rejects a radius above the maximum', () => {
    expect(() => growMask(makeMask(5, 5), MAX_RADIUS_PX + 1)).toThrow(/\[0, 1024\], got 1025/)
  })
})

describe('featherMask', () => {
  it('matches the ramp formula', () => {
    for (const featherPx of [0, 1, 3, 6]) {
      const grown = growMask(makeEllipseMask(31, 23, { cx: 14, cy: 11, rx: 9, ry: 6 }), 2)

      const alpha = featherMask(grown, featherPx)

      expect(Array.from(alpha.data)).toEqual(Array.from(featherByFormula(grown, featherPx)))
    }
  })

  it('keeps alpha zero outside the mask', () => {
    const grown = growMask(makeRandomMask(64, 48, 0.01, 9), 3)

    const alpha = featherMask(grown, 8)

    for (let i = 0; i < grown.data.length; i++) {
      if (grown.data[i] === 0) expect(alpha.data[i], `pixel ${i}`).toBe(0)
    }
  })

  it('ramps monotonically into a half-plane', () => {
    // Mask: columns 0..59 of a 100-wide image; the edge is between columns 59 and 60.
    const width = 100
    const grown = makeMask(width, 9)
    for (let y = 0; y < 9; y++) grown.data.fill(255, y * width, y * width + 60)

    const alpha = featherMask(grown, 8)

    // Column 59 - k lies k + 1 pixels from column 60, so alpha = 255 × min(1, (k + 1) / 8).
    const row = Array.from(alpha.data.subarray(4 * width, 5 * width))
    for (let k = 0; k < 12; k++) {
      expect(row[59 - k], `column ${59 - k}`).toBe(Math.round(255 * Math.min(1, (k + 1) / 8)))
    }
    for (let x = 1; x < 60; x++) expect(row[x - 1]!).toBeGreaterThanOrEqual(row[x]!)
    expect(row.slice(60).every((v) => v === 0)).toBe(true)
  })

  it('treats the image border as no edge', () => {
    const grown = makeMask(30, 1)
    grown.data.fill(255, 0, 20)

    const alpha = featherMask(grown, 4)

    expect(alpha.data[0]).toBe(255)
    expect(alpha.data[19]).toBe(Math.round(255 / 4))
  })
})

describe('growAndFeather', () => {
  it('keeps the entity at full alpha', () => {
    const mask = makeEllipseMask(80, 60, { cx: 40, cy: 30, rx: 20, ry: 12 })

    for (const [growPx, featherPx] of [
      [1, 1],
      [3, 2],
      [8, 8],
      [12, 12],
    ] as const) {
      const { alpha } = growAndFeather(mask, { growPx, featherPx })

      for (let i = 0; i < mask.data.length; i++) {
        if (mask.data[i] === 255) expect(alpha.data[i], `${growPx}/${featherPx} at ${i}`).toBe(255)
      }
    }
  })

  it('reports the grown box', () => {
    const mask = makeMask(50, 40, [
      [10, 12],
      [20, 30],
    ])

    const { grown, grownBox } = growAndFeather(mask, { growPx: 5, featherPx: 2 })

    expect(grownBox).toEqual(maskBounds(grown))
    expect(grownBox).toEqual(expandBox([10, 12, 21, 31], 5, 50, 40))
  })

  it('returns no box for an empty mask', () => {
    const { grownBox, alpha } = growAndFeather(makeMask(8, 8), { growPx: 3, featherPx: 3 })

    expect(grownBox).toBeUndefined()
    expect(alpha.data.every((v) => v === 0)).toBe(true)
  })
})
