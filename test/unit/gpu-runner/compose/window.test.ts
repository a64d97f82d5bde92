import { describe, expect, it } from 'vitest'

import { computeWindow, type WorkingWindow } from '../../../../gpu-runner/compose/window.ts'
import type { PixelBox } from '../../../../gpu-runner/pipeline/types.ts'
import { makeRandom } from './make-rasters.ts'

function windowSize(window: WorkingWindow): [number, number] {
  const [x0, y0, x1, y1] = window.box
  return [x1 - x0, y1 - y0]
}

describe('computeWindow', () => {
  it('adds context and centres on the box', () => {
    // Longer side 200, c = 0.25: side = ceil(200 × 1.5) = 300.
    const window = computeWindow([1000, 800, 1200, 900], { width: 4000, height: 3000 })

    expect(window.box).toEqual([950, 700, 1250, 1000])
    expect(window.modelWidth).toBe(512)
    expect(window.modelHeight).toBe(512)
  })

  it('uses the given context fraction', () => {
    const window = computeWindow(
      [100, 100, 140, 120],
      { width: 500, height: 500 },
      { contextFraction: 1 }
    )

    expect(windowSize(window)).toEqual([120, 120])
    expect(window.box).toEqual([60, 50, 180, 170])
  })

  it('shifts the window inside the image', () => {
    const window = computeWindow([0, 2900, 100, 3000], { width: 4000, height: 3000 })

    expect(window.box).toEqual([0, 2850, 150, 3000])
  })

  it('gives a one-pixel entity the minimum window', () => {
    // 512 / 16 = 32: one image pixel becomes 16 model pixels, two latent cells.
    const window = computeWindow([640, 480, 641, 481], { width: 1280, height: 960 })

    expect(windowSize(window)).toEqual([32, 32])
    expect(window.box).toEqual([624, 464, 656, 496])
  })

  it('scales the minimum with the resolution', () => {
    const window = computeWindow([10, 10, 11, 11], { width: 100, height: 100 }, { resolution: 768 })

    expect(windowSize(window)).toEqual([48, 48])
    expect([window.modelWidth, window.modelHeight]).toEqual([768, 768])
  })

  it('keeps a thin vertical strip narrow', () => {
    // side = 32, cut to the 7-pixel width; 512 × 7 / 32 = 112 → nearest multiple of 64 is 128.
    const window = computeWindow([2, 2400, 5, 2403], { width: 7, height: 5000 })

    expect(window.box).toEqual([0, 2385, 7, 2417])
    expect([window.modelWidth, window.modelHeight]).toEqual([128, 512])
  })

  it('keeps a thin horizontal strip low', () => {
    const window = computeWindow([2400, 2, 2403, 5], { width: 5000, height: 7 })

    expect(window.box).toEqual([2385, 0, 2417, 7])
    expect([window.modelWidth, window.modelHeight]).toEqual([512, 128])
  })

  it('snaps to multiples of 8 on request', () => {
    const window = computeWindow(
      [2, 2400, 5, 2403],
      { width: 7, height: 5000 },
      { sizeMultiple: 8 }
    )

    expect([window.modelWidth, window.modelHeight]).toEqual([112, 512])
  })

  it('gives a whole strip the smallest model side', () => {
    // 512 × 7 / 5000 rounds to 0 multiples of 64; the floor is one multiple.
    const window = computeWindow([0, 0, 7, 5000], { width: 7, height: 5000 })

    expect(window.box).toEqual([0, 0, 7, 5000])
    expect([window.modelWidth, window.modelHeight]).toEqual([64, 512])
  })

  it('maps a cut window to a non-square size', () => {
    // side = 450 is cut to the 400-pixel height; 512 × 400 / 450 = 455.1 → 448.
    const window = computeWindow([100, 50, 400, 350], { width: 600, height: 400 })

    expect(window.box).toEqual([25, 0, 475, 400])
    expect([window.modelWidth, window.modelHeight]).toEqual([512, 448])
  })

  it('covers the whole image for a full-frame box', () => {
    const window = computeWindow([0, 0, 4000, 3000], { width: 4000, height: 3000 })

    expect(window.box).toEqual([0, 0, 4000, 3000])
    expect([window.modelWidth, window.modelHeight]).toEqual([512, 384])
  })

  it('contains the box inside the image', () => {
    const next = makeRandom(42)
    for (let i = 0; i < 2000; i++) {
      const width = 1 + (next() % 3000)
      const height = 1 + (next() % 3000)
      const x0 = next() % width
      const y0 = next() % height
      const box: PixelBox = [
        x0,
        y0,
        x0 + 1 + (next() % (width - x0)),
        y0 + 1 + (next() % (height - y0)),
      ]
      const contextFraction = (next() % 100) / 100

      const window = computeWindow(box, { width, height }, { contextFraction })

      const [wx0, wy0, wx1, wy1] = window.box
      const where = `box ${box.join(',')} in ${width}×${height}`
      expect(wx0, where).toBeLessThanOrEqual(box[0])
      expect(wy0, where).toBeLessThanOrEqual(box[1])
      expect(wx1, where).toBeGreaterThanOrEqual(box[2])
      expect(wy1, where).toBeGreaterThanOrEqual(box[3])
      expect(wx0, where).toBeGreaterThanOrEqual(0)
      expect(wy0, where).toBeGreaterThanOrEqual(0)
      expect(wx1, where).toBeLessThanOrEqual(width)
      expect(wy1, where).toBeLessThanOrEqual(height)
      expect(window.modelWidth % 64, where).toBe(0)
      expect(window.modelHeight % 64, where).toBe(0)
      expect(Math.max(window.modelWidth, window.modelHeight), where).toBe(512)
    }
  })

  it('rejects an empty box', () => {
    expect(() => computeWindow([5, 5, 5, 9], { width: 10, height: 10 })).toThrow(
      /must be non-empty and inside the 10×10 image/
    )
  })

  it('rejects a box outside the image', () => {
    expect(() => computeWindow([5, 5, 11, 9], { width: 10, height: 10 })).toThrow(RangeError)
  })

  it('rejects a resolution off the multiple', () => {
    expect(() =>
      computeWindow([0, 0, 1, 1], { width: 10, height: 10 }, { resolution: 520 })
    ).toThrow(/multiple of 64/)
  })

  it('rejects a size multiple off 8', () => {
    expect(() =>
      computeWindow([0, 0, 1, 1], { width: 10, height: 10 }, { sizeMultiple: 12 })
    ).toThrow(/multiple of 8/)
  })

  it('rejects a negative context fraction', () => {
    expect(() =>
      computeWindow([0, 0, 1, 1], { width: 10, height: 10 }, { contextFraction: -0.1 })
    ).toThrow(/contextFraction/)
  })
})
