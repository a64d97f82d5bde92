import { createHash } from 'node:crypto'

import sharp from 'sharp'
import { describe, expect, it } from 'vitest'

import type { RgbImage } from '../../../../gpu-runner/image/types.ts'
import {
  CLIP_IMAGE_SIZE,
  CLIP_MEAN,
  CLIP_STD,
  centerCropOffset,
  clipResizeSize,
  preprocessClipImage,
  resizeBicubic,
} from '../../../../gpu-runner/tensor/clip-preprocess.ts'

const PLANE = CLIP_IMAGE_SIZE * CLIP_IMAGE_SIZE

function makeImage(
  width: number,
  height: number,
  pixel: (x: number, y: number, channel: number) => number
): RgbImage {
  const data = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let channel = 0; channel < 3; channel++) {
        data[(y * width + x) * 3 + channel] = pixel(x, y, channel)
      }
    }
  }
  return { data, width, height }
}

/** Builds the pattern that the Pillow references below were computed on. */
function makePattern(width: number, height: number): RgbImage {
  return makeImage(width, height, (x, y, channel) => (x * 7 + y * 3 + channel * 50) % 256)
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** Undoes CLIP normalisation to recover the byte value of one tensor element. */
function toByte(value: number, channel: number): number {
  return Math.round((value * (CLIP_STD[channel] as number) + (CLIP_MEAN[channel] as number)) * 255)
}

describe('preprocessClipImage', () => {
  it('normalises a solid colour exactly', () => {
    const colour = [200, 100, 50]
    const pixels = preprocessClipImage(
      makeImage(300, 200, (_x, _y, channel) => colour[channel] ?? 0)
    )

    expect(pixels.length).toBe(3 * PLANE)
    for (let channel = 0; channel < 3; channel++) {
      const expected =
        ((colour[channel] as number) / 255 - (CLIP_MEAN[channel] as number)) /
        (CLIP_STD[channel] as number)
      const plane = pixels.subarray(channel * PLANE, (channel + 1) * PLANE)
      expect(Math.min(...plane)).toBeCloseTo(expected, 6)
      expect(Math.max(...plane)).toBeCloseTo(expected, 6)
    }
  })

  it('crops the centre of a wide image', () => {
    // 448×224 keeps its size because its shortest side is already 224, so output column x is
    // input column 112 + x. Red stores the column's low byte and green its high byte.
    const image = makeImage(448, 224, (x, _y, channel) => {
      if (channel === 0) return x & 255
      if (channel === 1) return x >> 8
      return 0
    })
    const pixels = preprocessClipImage(image)

    const columns = [0, 1, 100, 223].map((x) => {
      const low = toByte(pixels[0 * PLANE + 5 * CLIP_IMAGE_SIZE + x] as number, 0)
      const high = toByte(pixels[1 * PLANE + 5 * CLIP_IMAGE_SIZE + x] as number, 1)
      return low + 256 * high
    })
    expect(columns).toEqual([112, 113, 212, 335])
  })

  it('applies the crop rule to an odd excess', () => {
    // 224 wide and 231 tall: no resize, excess 7, so torchvision starts at round(3.5) = 4 and
    // transformers at floor(3.5) = 3. Red stores the row index.
    const image = makeImage(224, 231, (_x, y, channel) => (channel === 0 ? y : 0))
    const firstRow = (cropRule: 'torchvision' | 'transformers') =>
      toByte(preprocessClipImage(image, { cropRule })[0] as number, 0)

    expect(firstRow('torchvision')).toBe(4)
    expect(firstRow('transformers')).toBe(3)
  })

  it('writes one image of a batch', () => {
    const target = new Float32Array(2 * 3 * PLANE)
    preprocessClipImage(
      makeImage(224, 224, () => 255),
      { target, batchIndex: 1 }
    )

    expect(target.subarray(0, 3 * PLANE).every((value) => value === 0)).toBe(true)
    expect(target[3 * PLANE]).toBeCloseTo((1 - CLIP_MEAN[0]) / CLIP_STD[0], 6)
    expect(target[6 * PLANE - 1]).toBeCloseTo((1 - CLIP_MEAN[2]) / CLIP_STD[2], 6)
  })

  it('rejects a batch index past the target', () => {
    const target = new Float32Array(3 * PLANE)

    expect(() => preprocessClipImage(makePattern(10, 10), { target, batchIndex: 1 })).toThrow(
      RangeError
    )
  })
})

describe('clipResizeSize', () => {
  it.each([
    [640, 480, 298, 224],
    [480, 640, 224, 298],
    [300, 300, 224, 224],
    [1000, 333, 672, 224],
    [13, 301, 224, 5186],
  ])('sizes %i×%i as %i×%i', (width, height, expectedWidth, expectedHeight) => {
    // Expected: int(224 * long / short) as torchvision.transforms.Resize(224) computes it.
    expect(clipResizeSize(width, height)).toEqual({ width: expectedWidth, height: expectedHeight })
  })
})

describe('centerCropOffset', () => {
  it.each([
    [224, 0, 0],
    [225, 0, 0],
    [226, 1, 1],
    [227, 2, 1],
    [229, 2, 2],
    [231, 4, 3],
    [298, 37, 37],
  ])('crops %i pixels from %i or %i', (length, torchvision, transformers) => {
    // torchvision: int(round(excess / 2)), round half to even; transformers: excess // 2.
    expect(centerCropOffset(length, 224, 'torchvision')).toBe(torchvision)
    expect(centerCropOffset(length, 224, 'transformers')).toBe(transformers)
  })

  it('rejects a crop larger than the side', () => {
    expect(() => centerCropOffset(200, 224)).toThrow(RangeError)
  })
})

describe('resizeBicubic', () => {
  it('halves a step edge as derived by hand', () => {
    // 4 → 2 pixels: scale 2, so the kernel spans 4 input pixels at distances (i − c + 0.5) / 2.
    // Output 0 (c = 1) weighs inputs 0..3 by k(−0.25), k(0.25), k(0.75), k(1.25) =
    // 0.8671875, 0.8671875, 0.2265625, −0.0703125 (sum 1.890625), so a 0,0,255,255 row gives
    // 255 × 0.15625 / 1.890625 = 21.07 → 21. Output 1 mirrors it: 255 × 1.734375 / 1.890625 = 233.9 → 234.
    const row = makeImage(4, 1, (x) => (x < 2 ? 0 : 255))

    expect([...resizeBicubic(row, 2, 1).data]).toEqual([21, 21, 21, 234, 234, 234])
  })

  it('matches Pillow on a small pattern', () => {
    // Pillow 9.4: Image.frombytes('RGB', (7, 5), pattern).resize((3, 2), Image.BICUBIC).tobytes().
    const expected = [8, 58, 108, 24, 74, 124, 40, 90, 140, 14, 64, 114, 30, 80, 130, 46, 96, 146]

    expect([...resizeBicubic(makePattern(7, 5), 3, 2).data]).toEqual(expected)
  })

  it.each([
    [640, 480, 298, 224, '9a8528fd13aa233dfada9bdcf47920ba6589ede5d6e63eb423d95ff073773105'],
    [1000, 333, 672, 224, 'd9ae983689ed03125af4879b4d6e5049f34db1dbdd7311599525198969b06094'],
  ])('matches Pillow shrinking %i×%i', (width, height, outWidth, outHeight, digest) => {
    // Digest: sha256 of Pillow 9.4's resize((outWidth, outHeight), Image.BICUBIC).tobytes().
    expect(sha256(resizeBicubic(makePattern(width, height), outWidth, outHeight).data)).toBe(digest)
  })

  it('matches Pillow enlarging a checkerboard', () => {
    // 4-pixel black and white squares, 50×20 → 560×224; digest as above.
    const checker = makeImage(50, 20, (x, y) =>
      (Math.floor(x / 4) + Math.floor(y / 4)) % 2 ? 255 : 0
    )

    expect(sha256(resizeBicubic(checker, 560, 224).data)).toBe(
      'ecd2e8a06117aaca4cfd781cb003dad63fc938614181d742118e5ebd4e545c3c'
    )
  })

  it('matches Pillow on a fixture photo', async () => {
    // Pillow 9.4: Image.open(file).convert('RGB').resize((336, 224), Image.BICUBIC); PNG decodes
    // to the same bytes in sharp and Pillow.
    const file = new URL('../../../fixtures/photos/coffee-cup-on-saucer.png', import.meta.url)
    const { data, info } = await sharp(file.pathname)
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true })
    const photo = { data: new Uint8Array(data), width: info.width, height: info.height }

    expect(sha256(resizeBicubic(photo, 336, 224).data)).toBe(
      '99260946321b996911b20e0d5a2347d44838908cac0d1469372d97eb47b49730'
    )
  })

  it('copies an image of unchanged size', () => {
    const image = makePattern(5, 4)
    const resized = resizeBicubic(image, 5, 4)

    expect(resized.data).toEqual(image.data)
    expect(resized.data).not.toBe(image.data)
  })

  it('rejects a zero size', () => {
    expect(() => resizeBicubic(makePattern(5, 4), 0, 4)).toThrow(RangeError)
  })
})
