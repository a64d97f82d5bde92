import { describe, expect, it } from 'vitest'

import {
  binarizeMask,
  downsampleMaskNearest,
  imageToNchw,
  maskImageNchw,
  prepareInpaintInputs,
  rgbFromNchw,
} from '../../../../gpu-runner/compose/inpaint-inputs.ts'
import { maskBounds } from '../../../../gpu-runner/compose/bounds.ts'
import { growMask } from '../../../../gpu-runner/compose/mask-ops.ts'
import { computeWindow } from '../../../../gpu-runner/compose/window.ts'
import { makeMask, makeNoiseImage, makeRandom } from './make-rasters.ts'

/**
 * The reference's float32 steps for one byte: VaeImageProcessor divides by 255 in float32
 * (`np.array(image).astype(np.float32) / 255.0`) and normalises with `2.0 * images - 1.0`.
 */
function referenceSignedUnit(byte: number): number {
  return Math.fround(Math.fround(2 * Math.fround(byte / 255)) - 1)
}

describe('imageToNchw', () => {
  it('matches the reference for every byte', () => {
    const data = Uint8Array.from({ length: 256 * 3 }, (_, i) => Math.floor(i / 3))

    const nchw = imageToNchw({ data, width: 256, height: 1 })

    for (let byte = 0; byte < 256; byte++) {
      for (let c = 0; c < 3; c++)
        expect(nchw[c * 256 + byte], `byte ${byte}`).toBe(referenceSignedUnit(byte))
    }
  })

  it('agrees with x / 127.5 - 1 within one float32 step', () => {
    const data = Uint8Array.from({ length: 256 * 3 }, (_, i) => Math.floor(i / 3))

    const nchw = imageToNchw({ data, width: 256, height: 1 })

    for (let byte = 0; byte < 256; byte++)
      expect(Math.abs(nchw[byte]! - (byte / 127.5 - 1))).toBeLessThan(1.2e-7)
    expect(nchw[0]).toBe(-1)
    expect(nchw[255]).toBe(1)
  })

  it('writes planes in RGB order', () => {
    const image = { data: Uint8Array.from([255, 0, 0, 0, 255, 0]), width: 2, height: 1 }

    expect(Array.from(imageToNchw(image))).toEqual([1, -1, -1, 1, -1, -1])
  })
})

describe('binarizeMask', () => {
  it('splits at 0.5', () => {
    const mask = { data: Uint8Array.from([0, 127, 128, 255]), width: 4, height: 1 }

    expect(Array.from(binarizeMask(mask))).toEqual([0, 0, 1, 1])
  })
})

describe('maskImageNchw', () => {
  it('matches image times mask below 0.5', () => {
    const image = makeNoiseImage(16, 8, 3)
    const maskBytes = makeNoiseImage(16, 8, 4).data.subarray(0, 128)
    const mask = binarizeMask({ data: maskBytes, width: 16, height: 8 })
    const imageNchw = imageToNchw(image)

    const masked = maskImageNchw(imageNchw, mask)

    // Reference: masked_image = image * (mask < 0.5) with a binarised mask.
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 128; i++) {
        const expected = imageNchw[c * 128 + i]! * (mask[i]! < 0.5 ? 1 : 0)
        expect(masked[c * 128 + i]! + 0, `channel ${c}, pixel ${i}`).toBe(expected + 0)
      }
    }
  })
})

describe('downsampleMaskNearest', () => {
  it('reads the top-left pixel of each cell', () => {
    // torch.nn.functional.interpolate(mode='nearest') to size (h/8, w/8) reads source index
    // floor(i × 8) = 8i. Each 8×8 cell here has one set pixel at a different offset, so only
    // the cells whose set pixel sits at offset (0, 0) come out as 1.
    const width = 32
    const height = 16
    const mask = new Float32Array(width * height)
    const offsets = [
      [0, 0],
      [1, 0],
      [0, 7],
      [0, 0],
      [7, 7],
      [0, 0],
      [3, 4],
      [0, 1],
    ] as const
    offsets.forEach(([dx, dy], cell) => {
      const cx = (cell % 4) * 8
      const cy = Math.floor(cell / 4) * 8
      mask[(cy + dy) * width + cx + dx] = 1
    })

    const latent = downsampleMaskNearest(mask, width, height)

    expect(Array.from(latent)).toEqual([1, 0, 0, 1, 0, 1, 0, 0])
  })

  it('rejects sizes off the VAE factor', () => {
    expect(() => downsampleMaskNearest(new Float32Array(12 * 8), 12, 8)).toThrow(/multiple of 8/)
  })
})

describe('rgbFromNchw', () => {
  it('inverts imageToNchw for every byte', () => {
    const data = Uint8Array.from(
      { length: 256 * 3 },
      (_, i) => (Math.floor(i / 3) + 85 * (i % 3)) % 256
    )
    const image = { data, width: 256, height: 1 }

    expect(Array.from(rgbFromNchw(imageToNchw(image), 256, 1).data)).toEqual(Array.from(data))
  })

  it('clamps and rounds half to even', () => {
    // (x / 2 + 0.5) × 255: -3 → clamped 0; 2 → clamped 255; 0 → 127.5 → 128 (even);
    // 1 / 255 → 128.0 → 128; -1 / 255 → 127.
    const sample = Float32Array.from([-3, 2, 0, 1 / 255, -1 / 255, 0])

    const rgb = rgbFromNchw(sample, 2, 1)

    expect(Array.from(rgb.data)).toEqual([0, 128, 127, 255, 128, 128])
  })

  it('rejects NaN', () => {
    expect(() => rgbFromNchw(Float32Array.from([0, Number.NaN, 0]), 1, 1)).toThrow(/NaN/)
  })
})

describe('prepareInpaintInputs', () => {
  it('keeps a sub-cell entity in the latent mask', async () => {
    const image = makeNoiseImage(640, 480, 5)
    const grown = growMask(makeMask(640, 480, [[301, 207]]), 0)
    const window = computeWindow(maskBounds(grown)!, image)

    const inputs = await prepareInpaintInputs(image, grown, window)

    expect([inputs.width, inputs.height]).toEqual([512, 512])
    expect(inputs.imageNchw.length).toBe(3 * 512 * 512)
    expect(inputs.maskNchw.length).toBe(512 * 512)
    expect(inputs.maskedImageNchw.length).toBe(3 * 512 * 512)
    expect(inputs.latentMaskNchw.length).toBe(64 * 64)
    expect(inputs.latentMaskNchw.some((v) => v === 1)).toBe(true)
  })

  it('regenerates only the binarised mask area', async () => {
    const image = makeNoiseImage(300, 200, 6)
    const grown = growMask(makeMask(300, 200, [[150, 100]]), 20)
    const window = computeWindow(maskBounds(grown)!, image)

    const inputs = await prepareInpaintInputs(image, grown, window)

    const plane = inputs.width * inputs.height
    let masked = 0
    const mismatches: number[] = []
    for (let i = 0; i < plane; i++) {
      const keep = inputs.maskNchw[i] === 0
      if (!keep) masked++
      for (let c = 0; c < 3; c++) {
        const expected = keep ? inputs.imageNchw[c * plane + i]! : 0
        if (inputs.maskedImageNchw[c * plane + i] !== expected) mismatches.push(c * plane + i)
      }
    }
    expect(mismatches).toEqual([])
    expect(masked).toBeGreaterThan(0)
    expect(masked).toBeLessThan(plane)
  })

  it('converts the resized window', async () => {
    const image = makeNoiseImage(96, 80, 7)
    const grown = growMask(makeMask(96, 80, [[40, 40]]), 30)
    const window = computeWindow(maskBounds(grown)!, image)

    const inputs = await prepareInpaintInputs(image, grown, window)

    expect(inputs.imageWindow.width).toBe(window.modelWidth)
    const expected = imageToNchw(inputs.imageWindow)
    expect(inputs.imageNchw.length).toBe(expected.length)
    expect(inputs.imageNchw.every((v, i) => v === expected[i])).toBe(true)
  })

  it('handles a 7×5000 strip', async () => {
    const next = makeRandom(8)
    const image = makeNoiseImage(7, 5000, next())
    const grown = growMask(makeMask(7, 5000, [[3, 4000]]), 2)
    const window = computeWindow(maskBounds(grown)!, image)

    const inputs = await prepareInpaintInputs(image, grown, window)

    expect([inputs.width, inputs.height]).toEqual([window.modelWidth, window.modelHeight])
    expect(inputs.latentMaskNchw.length).toBe((inputs.width / 8) * (inputs.height / 8))
    expect(inputs.latentMaskNchw.some((v) => v === 1)).toBe(true)
  })

  it('rejects a mask of another size', async () => {
    const image = makeNoiseImage(20, 20)
    const window = computeWindow([5, 5, 6, 6], image)

    await expect(prepareInpaintInputs(image, makeMask(20, 21), window)).rejects.toThrow(/20×21/)
  })
})
