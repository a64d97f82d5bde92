import sharp from 'sharp'
import { describe, expect, it } from 'vitest'

import {
  DEFAULT_JPEG_QUALITY,
  encodeImage,
  encodeMaskPng,
} from '../../../../gpu-runner/image/encode.ts'
import { decodeImage, decodeMaskPng } from '../../../../gpu-runner/image/intake.ts'
import type { RgbImage } from '../../../../gpu-runner/image/types.ts'
import { IMAGE_FORMATS } from '../../../../shared/limits.ts'
import { readPhoto } from '../../shared/image-sniff-builders.ts'

// Largest mean absolute error per channel sample (0-255) after a lossy round trip of the
// 800x534 dog photo. Measured with sharp 0.35 (its bundled mozjpeg library and libwebp 1.6):
// JPEG q92 4:4:4 gave 0.45 and WebP q90 gave 1.35. The bounds leave room for other codec
// builds and fail an encoder that ignores the quality setting or subsamples heavily.
const MAX_MEAN_ERROR = { jpeg: 1, webp: 2.5 } as const

async function decodePhoto(file: string): Promise<RgbImage> {
  return (await decodeImage(readPhoto(file))).image
}

function meanAbsoluteError(a: Uint8Array, b: Uint8Array): number {
  expect(a.byteLength).toBe(b.byteLength)
  let sum = 0
  for (let i = 0; i < a.byteLength; i++) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0))
  return sum / a.byteLength
}

describe('encodeImage', () => {
  it('round-trips PNG exactly', async () => {
    const image = await decodePhoto('dog-and-owner-with-bowl.jpg')

    const png = await encodeImage(image, 'png')
    const decoded = await decodeImage(png)

    // IHDR bit depth (byte 24) 8 and colour type (byte 25) 2: 8-bit truecolour, no palette.
    expect([png[24], png[25]]).toEqual([8, 2])
    expect(decoded.format).toBe('png')
    expect(Buffer.from(decoded.image.data).equals(Buffer.from(image.data))).toBe(true)
  })

  it('round-trips lossless WebP exactly', async () => {
    const image = await decodePhoto('navy-officer-portrait-tiny.jpg')

    const webp = await encodeImage(image, 'webp', { webpLossless: true })
    const decoded = await decodeImage(webp)

    expect(Buffer.from(decoded.image.data).equals(Buffer.from(image.data))).toBe(true)
  })

  it('keeps lossy error small', async () => {
    const image = await decodePhoto('dog-and-owner-with-bowl.jpg')

    for (const format of ['jpeg', 'webp'] as const) {
      const encoded = await encodeImage(image, format)
      const decoded = await decodeImage(encoded)

      expect(decoded.format, format).toBe(format)
      expect(meanAbsoluteError(decoded.image.data, image.data), format).toBeLessThan(
        MAX_MEAN_ERROR[format]
      )
    }
  })

  it('writes JPEG with full chroma', async () => {
    const image = await decodePhoto('pink-flower.jpg')

    const metadata = await sharp(await encodeImage(image, 'jpeg')).metadata()

    expect(metadata.chromaSubsampling).toBe('4:4:4')
    expect(metadata.isProgressive).toBe(false)
  })

  it('applies JPEG quality', async () => {
    const image = await decodePhoto('pink-flower.jpg')

    const fine = await encodeImage(image, 'jpeg', { jpegQuality: DEFAULT_JPEG_QUALITY })
    const coarse = await encodeImage(image, 'jpeg', { jpegQuality: 40 })

    expect(coarse.byteLength).toBeLessThan(fine.byteLength)
  })

  it('repeats bytes for the same pixels', async () => {
    const image = await decodePhoto('bird-on-branch.jpg')

    for (const format of IMAGE_FORMATS) {
      const first = await encodeImage(image, format)
      const second = await encodeImage(image, format)

      expect(Buffer.from(first).equals(Buffer.from(second)), format).toBe(true)
    }
  })

  it('drops input metadata', async () => {
    // The EXIF-rotated fixture carries EXIF (with orientation 6) and an ICC profile.
    const input = readPhoto('waterfall-exif-orientation-6.jpg')
    const inputMetadata = await sharp(input).metadata()
    const { image } = await decodeImage(input)

    expect(inputMetadata.exif).toBeDefined()
    expect(inputMetadata.hasProfile).toBe(true)
    for (const format of IMAGE_FORMATS) {
      const metadata = await sharp(await encodeImage(image, format)).metadata()

      expect(metadata.exif, format).toBeUndefined()
      expect(metadata.xmp, format).toBeUndefined()
      expect(metadata.hasProfile, format).toBe(false)
      expect(metadata.orientation, format).toBeUndefined()
      expect([metadata.width, metadata.height], format).toEqual([600, 450])
    }
  })

  it('rejects a mismatched buffer', async () => {
    const image = { data: new Uint8Array(10), width: 2, height: 2 }

    await expect(encodeImage(image, 'png')).rejects.toThrow(
      new RangeError('RgbImage of 2x2 needs 12 bytes, got 10')
    )
  })

  it('rejects quality out of range', async () => {
    const image = { data: new Uint8Array(12), width: 2, height: 2 }

    await expect(encodeImage(image, 'jpeg', { jpegQuality: 0 })).rejects.toThrow(RangeError)
    await expect(encodeImage(image, 'webp', { webpQuality: 101 })).rejects.toThrow(RangeError)
  })
})

describe('encodeMaskPng', () => {
  it('writes 8-bit grayscale', async () => {
    const mask = { data: Uint8Array.from([0, 255, 128, 1, 254, 0]), width: 3, height: 2 }

    const png = await encodeMaskPng(mask)

    // IHDR data starts at byte 16: width (4), height (4), bit depth, colour type.
    const view = new DataView(png.buffer, png.byteOffset, png.byteLength)
    expect(String.fromCharCode(...png.subarray(12, 16))).toBe('IHDR')
    expect([view.getUint32(16), view.getUint32(20)]).toEqual([3, 2])
    expect(png[24]).toBe(8)
    expect(png[25]).toBe(0)
  })

  it('round-trips soft values', async () => {
    const data = Uint8Array.from({ length: 64 * 48 }, (_, i) => (i * 37) % 256)
    const mask = { data, width: 64, height: 48 }

    const decoded = await decodeMaskPng(await encodeMaskPng(mask), { width: 64, height: 48 })

    expect(Buffer.from(decoded.data).equals(Buffer.from(data))).toBe(true)
  })

  it('rejects a mismatched buffer', async () => {
    await expect(encodeMaskPng({ data: new Uint8Array(5), width: 3, height: 2 })).rejects.toThrow(
      new RangeError('GrayMask of 3x2 needs 6 bytes, got 5')
    )
  })
})
