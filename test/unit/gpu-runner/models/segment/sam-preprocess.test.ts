import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'

import type { RgbImage } from '../../../../../gpu-runner/image/types.ts'
import { resizeRgbBilinear } from '../../../../../gpu-runner/models/segment/bilinear-resize.ts'
import {
  REFERENCE_SAM_ENCODER_CONFIG,
  type SamEncoderConfig,
} from '../../../../../gpu-runner/models/segment/sam-config.ts'
import {
  buildSamEncoderInput,
  computeSamFrame,
  toResizedPoint,
} from '../../../../../gpu-runner/models/segment/sam-preprocess.ts'

// Reference values in this file were recorded with facebookresearch/segment-anything at commit
// dca509f (`ResizeLongestSide` and `Sam.preprocess`), torch 1.13.1, torchvision 0.14.1 and
// Pillow 9.4.0 (Debian bookworm packages). Images are the deterministic pattern below, built the
// same way in Python with numpy.

/** Pixel (x, y) channel c = (7x + 13y + 101c + (x·y mod 17)) mod 256. */
function makePatternImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        data[(y * width + x) * 3 + c] = (x * 7 + y * 13 + c * 101 + ((x * y) % 17)) % 256
      }
    }
  }
  return { data, width, height }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

describe('computeSamFrame', () => {
  // ResizeLongestSide.get_preprocess_shape(h, w, 1024), reported as (height, width).
  const cases = [
    [800, 534, 1024, 684],
    [1800, 1200, 1024, 683],
    [640, 855, 767, 1024],
    [2048, 590, 1024, 295],
    [128, 128, 1024, 1024],
    [3295, 1846, 1024, 574],
    [600, 450, 1024, 768],
    [1170, 1560, 768, 1024],
    [37, 5, 1024, 138],
    [5, 37, 138, 1024],
    [1024, 1024, 1024, 1024],
    [1023, 1, 1024, 1],
  ] as const

  it.each(cases)('resizes %ix%i to %ix%i', (width, height, resizedWidth, resizedHeight) => {
    const frame = computeSamFrame(width, height)

    expect(frame.resizedWidth).toBe(resizedWidth)
    expect(frame.resizedHeight).toBe(resizedHeight)
    expect(frame.originalWidth).toBe(width)
    expect(frame.originalHeight).toBe(height)
  })

  it('rejects empty sizes', () => {
    expect(() => computeSamFrame(0, 10)).toThrow(RangeError)
    expect(() => computeSamFrame(10.5, 10)).toThrow(RangeError)
  })
})

describe('resizeRgbBilinear', () => {
  // sha256 of ResizeLongestSide(1024).apply_image(pattern) bytes (HWC uint8).
  const cases = [
    [800, 534, '94ec3818824a7f865e44980c0ad5ad2f107b47ca6b36d89b85301a4aedf834e6'],
    [1800, 1200, '4055cabd2376ef0d279c1abe16df9ee6aaa133f00b6e52a2bf5601ca0182537a'],
    [128, 128, '560d6c64856432ac20040c16a0353af84b150316adadcb1e800208d4311b2c8a'],
    [2048, 590, 'c727e9596bd5da3081f597df9a4bbf142044027a73bd0ba3170288e17dd8dca7'],
    [640, 855, '15008956d8db42ea91e09d0fc0a3b64a0cfc054ac9e3edd9ce5e8e6308fd1cb4'],
    [37, 5, 'e1415e9633b25e860e37273f69d72680c54171dbf48c0965b3b2d459a7dd59a8'],
  ] as const

  it.each(cases)('matches Pillow bytes for %ix%i', (width, height, expectedHash) => {
    const frame = computeSamFrame(width, height)

    const resized = resizeRgbBilinear(
      makePatternImage(width, height),
      frame.resizedWidth,
      frame.resizedHeight
    )

    expect([resized.width, resized.height]).toEqual([frame.resizedWidth, frame.resizedHeight])
    expect(sha256(resized.data)).toBe(expectedHash)
  })

  it('keeps an image of the target size', () => {
    const image = makePatternImage(16, 9)

    const resized = resizeRgbBilinear(image, 16, 9)

    expect(resized.data).toEqual(image.data)
  })

  it('keeps a uniform colour uniform', () => {
    const image = { data: new Uint8Array(30 * 20 * 3).fill(77), width: 30, height: 20 }

    const resized = resizeRgbBilinear(image, 71, 9)

    expect(new Set(resized.data)).toEqual(new Set([77]))
  })

  it('rejects a zero target', () => {
    expect(() => resizeRgbBilinear(makePatternImage(4, 4), 0, 4)).toThrow(RangeError)
  })
})

describe('buildSamEncoderInput', () => {
  it('matches the reference tensor for 800x534', () => {
    const input = buildSamEncoderInput(makePatternImage(800, 534), REFERENCE_SAM_ENCODER_CONFIG)

    expect(input.dims).toEqual([1, 3, 1024, 1024])
    // sha256 of the float32 bytes of Sam.preprocess(apply_image(pattern)).
    expect(sha256(new Uint8Array(input.pixels.buffer))).toBe(
      '102e01ca8319acded63b1cc9bc142bd57238f6fcbad7d46edce1b29f0a6cf5fe'
    )
  })

  it('matches the reference tensor for 640x855', () => {
    const input = buildSamEncoderInput(makePatternImage(640, 855), REFERENCE_SAM_ENCODER_CONFIG)

    expect(sha256(new Uint8Array(input.pixels.buffer))).toBe(
      '83f5afbd8aac650ea47c780ce3b650710da30c29021fc426797b548f54dc0ec3'
    )
  })

  it('normalises pixels at known positions', () => {
    const { pixels } = buildSamEncoderInput(
      makePatternImage(800, 534),
      REFERENCE_SAM_ENCODER_CONFIG
    )
    const at = (c: number, y: number, x: number): number =>
      pixels[c * 1024 * 1024 + y * 1024 + x] ?? NaN

    // Reference values printed by torch in float32.
    expect(at(0, 0, 0)).toBe(Math.fround(-2.1179039478302))
    expect(at(1, 10, 20)).toBe(Math.fround(-1.0028010606765747))
    expect(at(2, 100, 500)).toBe(Math.fround(0.14762529730796814))
    expect(at(0, 683, 1023)).toBe(Math.fround(1.8892884254455566))
    expect(at(0, 0, 767)).toBe(Math.fround(-0.4396781027317047))
  })

  it('pads below and right with zeros', () => {
    const { pixels, frame } = buildSamEncoderInput(
      makePatternImage(640, 855),
      REFERENCE_SAM_ENCODER_CONFIG
    )
    const plane = 1024 * 1024
    let nonZeroInPadding = 0
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 1024; y++) {
        for (let x = frame.resizedWidth; x < 1024; x++) {
          if (pixels[c * plane + y * 1024 + x] !== 0) nonZeroInPadding++
        }
      }
    }

    expect(frame.resizedWidth).toBe(767)
    expect(nonZeroInPadding).toBe(0)
    // The last real column is not padding.
    expect(pixels[2 * plane + 1023 * 1024 + 766]).toBe(Math.fround(1.1062309741973877))
  })

  it('gives the mean colour zero', () => {
    const config: SamEncoderConfig = {
      ...REFERENCE_SAM_ENCODER_CONFIG,
      pixelMean: [100, 50, 200],
      pixelStd: [10, 20, 30],
    }
    const data = new Uint8Array(8 * 8 * 3)
    for (let i = 0; i < 64; i++) data.set([100, 50, 200], i * 3)

    const { pixels } = buildSamEncoderInput({ data, width: 8, height: 8 }, config)

    expect(pixels[0]).toBe(0)
    expect(pixels[1024 * 1024 + 1023 * 1024 + 1023]).toBe(0)
  })

  it('builds raw HWC input for graphs that normalise', () => {
    const config: SamEncoderConfig = { ...REFERENCE_SAM_ENCODER_CONFIG, pixelInput: 'raw-hwc' }
    const image = makePatternImage(800, 534)

    const input = buildSamEncoderInput(image, config)
    const resized = resizeRgbBilinear(image, 1024, 684)

    expect(input.dims).toEqual([684, 1024, 3])
    expect(input.pixels.length).toBe(resized.data.length)
    expect(sha256(new Uint8Array(input.pixels.buffer))).toBe(
      sha256(new Uint8Array(Float32Array.from(resized.data).buffer))
    )
  })
})

describe('toResizedPoint', () => {
  // ResizeLongestSide(1024).apply_coords(points, (h, w)).
  const cases = [
    [800, 534, [200, 400], [256.0, 512.3595505617977]],
    [800, 534, [799.5, 533.5], [1023.36, 683.3595505617977]],
    [800, 534, [123.25, 77.75], [157.76, 99.58988764044943]],
    [640, 855, [200, 400], [239.6875, 479.06432748538015]],
    [640, 855, [639.5, 854.5], [766.40078125, 1023.4011695906433]],
    [1800, 1200, [200, 400], [113.77777777777777, 227.66666666666669]],
    [1800, 1200, [123.25, 77.75], [70.11555555555556, 44.25270833333334]],
  ] as const

  it.each(cases)('maps a point of %ix%i', (width, height, point, expected) => {
    const frame = computeSamFrame(width, height)

    expect(toResizedPoint(frame, point[0], point[1])).toEqual(expected)
  })

  it('keeps the origin', () => {
    expect(toResizedPoint(computeSamFrame(800, 534), 0, 0)).toEqual([0, 0])
  })
})
