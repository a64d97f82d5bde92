import { describe, expect, it } from 'vitest'

import { blendChannel, compositeWindow } from '../../../../gpu-runner/compose/composite.ts'
import { cropResizeRgb } from '../../../../gpu-runner/compose/resize.ts'
import { growAndFeather } from '../../../../gpu-runner/compose/mask-ops.ts'
import { computeWindow, type WorkingWindow } from '../../../../gpu-runner/compose/window.ts'
import type { GrayMask, RgbImage } from '../../../../gpu-runner/image/types.ts'
import { makeEllipseMask, makeMask, makeNoiseImage } from './make-rasters.ts'

function makeSolidImage(
  width: number,
  height: number,
  rgb: readonly [number, number, number]
): RgbImage {
  const data = new Uint8Array(width * height * 3)
  for (let i = 0; i < data.length; i++) data[i] = rgb[i % 3]!
  return { data, width, height }
}

/** Runs growth, feathering, the window rule and compositing as the edit pipeline does. */
async function composite(
  original: RgbImage,
  entity: GrayMask,
  generate: (window: WorkingWindow) => RgbImage,
  options = { growPx: 8, featherPx: 8 }
): Promise<{ result: RgbImage; alpha: GrayMask; window: WorkingWindow }> {
  const { alpha, grownBox } = growAndFeather(entity, options)
  const window = computeWindow(grownBox!, original)
  const result = await compositeWindow(original, generate(window), window, alpha)
  return { result, alpha, window }
}

/** Lists the pixels with alpha 0 whose bytes changed; every pixel is checked. */
function changedKeptPixels(original: RgbImage, result: RgbImage, alpha: GrayMask): number[] {
  const changed: number[] = []
  for (let p = 0; p < alpha.data.length; p++) {
    if (alpha.data[p] !== 0) continue
    const i = p * 3
    const same =
      result.data[i] === original.data[i] &&
      result.data[i + 1] === original.data[i + 1] &&
      result.data[i + 2] === original.data[i + 2]
    if (!same) changed.push(p)
  }
  return changed
}

const noiseWindow = (window: WorkingWindow): RgbImage =>
  makeNoiseImage(window.modelWidth, window.modelHeight, 99)

describe('compositeWindow', () => {
  it('keeps every alpha-zero pixel byte-identical', async () => {
    const original = makeNoiseImage(97, 61, 1)
    const entity = makeEllipseMask(97, 61, { cx: 40, cy: 30, rx: 15, ry: 9 })

    const { result, alpha } = await composite(original, entity, noiseWindow)

    expect(result.width).toBe(97)
    expect(result.height).toBe(61)
    expect(result.data.length).toBe(97 * 61 * 3)
    expect(changedKeptPixels(original, result, alpha)).toEqual([])
    expect(alpha.data.some((a) => a === 0)).toBe(true)
  })

  it('replaces full-alpha pixels', async () => {
    const original = makeNoiseImage(120, 90, 2)
    const entity = makeEllipseMask(120, 90, { cx: 60, cy: 45, rx: 20, ry: 14 })
    const solid = (window: WorkingWindow): RgbImage =>
      makeSolidImage(window.modelWidth, window.modelHeight, [10, 200, 77])

    const { result, alpha } = await composite(original, entity, solid)

    let full = 0
    for (let p = 0; p < alpha.data.length; p++) {
      if (alpha.data[p] !== 255) continue
      full++
      expect(Array.from(result.data.subarray(p * 3, p * 3 + 3)), `pixel ${p}`).toEqual([
        10, 200, 77,
      ])
    }
    expect(full).toBeGreaterThan(0)
  })

  it('blends partial alpha by the formula', async () => {
    const original = makeSolidImage(64, 48, [0, 100, 255])
    const entity = makeEllipseMask(64, 48, { cx: 32, cy: 24, rx: 10, ry: 8 })
    const solid = (window: WorkingWindow): RgbImage =>
      makeSolidImage(window.modelWidth, window.modelHeight, [255, 0, 55])

    const { result, alpha } = await composite(original, entity, solid)

    const wrong: number[] = []
    for (let p = 0; p < alpha.data.length; p++) {
      const a = alpha.data[p]!
      for (const [c, generated, kept] of [
        [0, 255, 0],
        [1, 0, 100],
        [2, 55, 255],
      ] as const) {
        const expected = Math.round((generated * a + kept * (255 - a)) / 255)
        if (result.data[p * 3 + c] !== expected) wrong.push(p)
      }
    }
    expect(wrong).toEqual([])
    expect(alpha.data.some((a) => a > 0 && a < 255)).toBe(true)
  })

  it('matches blending the fully resized window', async () => {
    const original = makeNoiseImage(211, 157, 11)
    const entity = makeEllipseMask(211, 157, { cx: 90, cy: 70, rx: 30, ry: 20 })

    const { result, alpha, window } = await composite(original, entity, noiseWindow)

    // Reference: resize the whole generated window to the window's size, then blend each pixel.
    const [x0, y0, x1, y1] = window.box
    const generated = noiseWindow(window)
    const full = await cropResizeRgb(generated, [0, 0, generated.width, generated.height], {
      width: x1 - x0,
      height: y1 - y0,
    })
    const wrong: number[] = []
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const p = y * 211 + x
        const a = alpha.data[p]!
        for (let c = 0; c < 3; c++) {
          const g = full.data[((y - y0) * (x1 - x0) + (x - x0)) * 3 + c]!
          const expected = Math.round((g * a + original.data[p * 3 + c]! * (255 - a)) / 255)
          if (result.data[p * 3 + c] !== expected) wrong.push(p)
        }
      }
    }
    expect(wrong).toEqual([])
  })

  it('leaves the inputs unchanged', async () => {
    const original = makeNoiseImage(50, 40, 3)
    const before = Uint8Array.from(original.data)
    const entity = makeEllipseMask(50, 40, { cx: 25, cy: 20, rx: 6, ry: 6 })

    await composite(original, entity, noiseWindow)

    expect(original.data.every((v, i) => v === before[i])).toBe(true)
  })

  it('handles a 7×5000 strip', async () => {
    const original = makeNoiseImage(7, 5000, 4)
    const entity = makeMask(7, 5000, [
      [3, 1200],
      [4, 1201],
    ])

    const { result, alpha, window } = await composite(original, entity, noiseWindow)

    expect(window.box[2] - window.box[0]).toBe(7)
    expect([result.width, result.height]).toEqual([7, 5000])
    expect(result.data.length).toBe(7 * 5000 * 3)
    expect(changedKeptPixels(original, result, alpha)).toEqual([])
  })

  it('handles a 5000×7 strip', async () => {
    const original = makeNoiseImage(5000, 7, 5)
    const entity = makeMask(5000, 7, [[4321, 6]])

    const { result, alpha, window } = await composite(original, entity, noiseWindow)

    expect(window.box[3] - window.box[1]).toBe(7)
    expect([result.width, result.height]).toEqual([5000, 7])
    expect(changedKeptPixels(original, result, alpha)).toEqual([])
  })

  it('edits an entity smaller than a latent cell', async () => {
    const original = makeSolidImage(641, 479, [30, 30, 30])
    const entity = makeMask(641, 479, [[300, 200]])
    const solid = (window: WorkingWindow): RgbImage =>
      makeSolidImage(window.modelWidth, window.modelHeight, [240, 10, 10])

    const { result, alpha } = await composite(original, entity, solid, { growPx: 0, featherPx: 0 })

    expect(Array.from(result.data.subarray((200 * 641 + 300) * 3, (200 * 641 + 301) * 3))).toEqual([
      240, 10, 10,
    ])
    expect(alpha.data.filter((a) => a !== 0).length).toBe(1)
    expect(changedKeptPixels(original, result, alpha)).toEqual([])
  })

  it('rejects alpha outside the window', async () => {
    const original = makeNoiseImage(100, 100)
    const window = computeWindow([10, 10, 20, 20], original)
    const alpha = makeMask(100, 100, [[90, 90]])

    await expect(compositeWindow(original, noiseWindow(window), window, alpha)).rejects.toThrow(
      /alpha is non-zero within \[90, 90, 91, 91\], outside the window/
    )
  })

  it('rejects a generated window of the wrong size', async () => {
    const original = makeNoiseImage(100, 100)
    const window = computeWindow([10, 10, 20, 20], original)

    await expect(
      compositeWindow(original, makeNoiseImage(256, 256), window, makeMask(100, 100))
    ).rejects.toThrow(/expected the model size 512×512/)
  })
})

describe('blendChannel', () => {
  it('rounds exactly for every input', () => {
    let mismatches = 0
    for (let a = 0; a <= 255; a++) {
      for (let g = 0; g <= 255; g++) {
        for (let o = 0; o <= 255; o++) {
          if (blendChannel(g, o, a) !== Math.round((g * a + o * (255 - a)) / 255)) mismatches++
        }
      }
    }

    expect(mismatches).toBe(0)
  })
})
