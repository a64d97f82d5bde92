import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import sharp from 'sharp'
import { describe, expect, it } from 'vitest'

import { RunnerError } from '../../../../gpu-runner/errors.ts'
import { decodeImage, decodeMaskPng } from '../../../../gpu-runner/image/intake.ts'
import type { RgbImage } from '../../../../gpu-runner/image/types.ts'
import { DEFAULT_IMAGE_LIMITS } from '../../../../shared/image-sniff.ts'
import {
  PHOTOS_DIR,
  animationControlChunk,
  insertPngChunkAfterHeader,
  makePngHeaderOnly,
  readPhoto,
  solidImage,
} from '../../shared/image-sniff-builders.ts'
import { makeCmykTiff } from './cmyk-tiff.ts'

// Largest per-channel difference accepted, with the reason for each.
const TOLERANCE = {
  // JPEG at quality 100 still quantises, so flat colour areas land within a few levels.
  jpegFlat: 6,
  // libvips flattens in float and rounds once, while the reference formula is exact.
  flatten: 1,
  // ICC transforms through the profile connection space round each channel once or twice.
  icc: 2,
} as const

interface PhotoCase {
  file: string
  format: string
  width: number
  height: number
  exif_orientation: number | null
}

const photoCases = JSON.parse(
  readFileSync(join(PHOTOS_DIR, 'cases.json'), 'utf8')
) as readonly PhotoCase[]

/** Awaits `promise` and returns the RunnerError it rejects with. Fails the test otherwise. */
async function catchRunnerError(promise: Promise<unknown>): Promise<RunnerError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason
  )
  expect(error).toBeInstanceOf(RunnerError)
  return error as RunnerError
}

function pixelAt(image: RgbImage, x: number, y: number): [number, number, number] {
  const offset = (y * image.width + x) * 3
  return [image.data[offset] ?? -1, image.data[offset + 1] ?? -1, image.data[offset + 2] ?? -1]
}

function expectPixelClose(
  actual: readonly number[],
  expected: readonly number[],
  tolerance: number
): void {
  const worst = Math.max(...actual.map((value, i) => Math.abs(value - (expected[i] ?? NaN))))
  expect(worst, `pixel ${actual.join(',')} vs ${expected.join(',')}`).toBeLessThanOrEqual(tolerance)
}

describe('decodeImage', () => {
  it('decodes every fixture upright', async () => {
    for (const photo of photoCases) {
      const decoded = await decodeImage(readPhoto(photo.file))

      expect(decoded.format, photo.file).toBe(photo.format)
      expect(decoded.image.width, photo.file).toBe(photo.width)
      expect(decoded.image.height, photo.file).toBe(photo.height)
      expect(decoded.image.data.byteLength, photo.file).toBe(photo.width * photo.height * 3)
    }
  })

  it('applies EXIF orientation 6', async () => {
    // cases.json gives the upright 600x450; the file stores 450x600 with orientation 6.
    const decoded = await decodeImage(readPhoto('waterfall-exif-orientation-6.jpg'))

    expect(decoded.orientation).toBe(6)
    expect([decoded.storedWidth, decoded.storedHeight]).toEqual([450, 600])
    expect([decoded.image.width, decoded.image.height]).toEqual([600, 450])
  })

  it('moves corners for all eight orientations', async () => {
    // Stored 40x20 in quadrants: red top-left, green top-right, blue bottom-left, white
    // bottom-right. Per the EXIF Orientation tag, the stored first row and first column
    // land on these upright sides: 1 top/left, 2 top/right, 3 bottom/right, 4 bottom/left,
    // 5 left/top, 6 right/top, 7 right/bottom, 8 left/bottom.
    const red = [255, 0, 0]
    const green = [0, 255, 0]
    const blue = [0, 0, 255]
    const white = [255, 255, 255]
    const uprightCorners: Record<number, readonly (readonly number[])[]> = {
      // [top-left, top-right, bottom-left, bottom-right] of the upright image
      1: [red, green, blue, white],
      2: [green, red, white, blue],
      3: [white, blue, green, red],
      4: [blue, white, red, green],
      5: [red, blue, green, white],
      6: [blue, red, white, green],
      7: [white, green, blue, red],
      8: [green, white, red, blue],
    }
    const quadrant = (rgb: readonly number[], left: number, top: number) => ({
      input: {
        create: {
          width: 20,
          height: 10,
          channels: 3 as const,
          background: { r: rgb[0] ?? 0, g: rgb[1] ?? 0, b: rgb[2] ?? 0 },
        },
      },
      left,
      top,
    })
    const stored = await solidImage([255, 255, 255], { width: 40, height: 20 })
      .composite([quadrant(red, 0, 0), quadrant(green, 20, 0), quadrant(blue, 0, 10)])
      .removeAlpha()
      .raw()
      .toBuffer()

    for (const [orientation, corners] of Object.entries(uprightCorners)) {
      const jpeg = await sharp(stored, { raw: { width: 40, height: 20, channels: 3 } })
        .withMetadata({ orientation: Number(orientation) })
        .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
        .toBuffer()
      const { image } = await decodeImage(jpeg)
      const rotated = Number(orientation) >= 5
      const [width, height] = rotated ? [20, 40] : [40, 20]

      expect([image.width, image.height], `orientation ${orientation}`).toEqual([width, height])
      // Sample 3 px in from each corner, away from the JPEG ringing at quadrant edges.
      const samples = [
        pixelAt(image, 3, 3),
        pixelAt(image, width - 4, 3),
        pixelAt(image, 3, height - 4),
        pixelAt(image, width - 4, height - 4),
      ]
      samples.forEach((sample, corner) => {
        expectPixelClose(sample, corners[corner] ?? [], TOLERANCE.jpegFlat)
      })
    }
  })

  it('expands grayscale to equal channels', async () => {
    const bytes = readPhoto('cameraman-grayscale.png')
    const gray = await sharp(bytes).toColourspace('b-w').raw().toBuffer()

    const decoded = await decodeImage(bytes)

    expect(decoded.inputSpace).toBe('b-w')
    let mismatches = 0
    for (let pixel = 0; pixel < gray.byteLength; pixel++) {
      const value = gray[pixel]
      const rgb = decoded.image.data.subarray(pixel * 3, pixel * 3 + 3)
      if (rgb[0] !== value || rgb[1] !== value || rgb[2] !== value) mismatches++
    }
    expect(mismatches).toBe(0)
  })

  it('flattens alpha onto white', async () => {
    const bytes = readPhoto('elephant-cutout-alpha.png')
    const rgba = await sharp(bytes).ensureAlpha().raw().toBuffer()

    const decoded = await decodeImage(bytes)

    expect(decoded.hadAlpha).toBe(true)
    // Straight-alpha compositing over white: out = (c * a + 255 * (255 - a)) / 255.
    let worst = 0
    let transparentPixels = 0
    let partialPixels = 0
    for (let pixel = 0; pixel < rgba.byteLength / 4; pixel++) {
      const alpha = rgba[pixel * 4 + 3] ?? 0
      if (alpha === 0) transparentPixels++
      if (alpha > 0 && alpha < 255) partialPixels++
      for (let channel = 0; channel < 3; channel++) {
        const colour = rgba[pixel * 4 + channel] ?? 0
        const expected = (colour * alpha + 255 * (255 - alpha)) / 255
        const actual = decoded.image.data[pixel * 3 + channel] ?? NaN
        worst = Math.max(worst, Math.abs(actual - expected))
      }
    }
    expect(transparentPixels).toBeGreaterThan(0)
    expect(partialPixels).toBeGreaterThan(0)
    expect(worst).toBeLessThanOrEqual(TOLERANCE.flatten)
  })

  it('flattens onto a given background', async () => {
    const transparent = await sharp({
      create: { width: 4, height: 4, channels: 4, background: { r: 9, g: 9, b: 9, alpha: 0 } },
    })
      .png()
      .toBuffer()

    const decoded = await decodeImage(transparent, { background: [10, 20, 30] })

    expect(pixelAt(decoded.image, 2, 2)).toEqual([10, 20, 30])
  })

  it('reports no alpha for RGB', async () => {
    const decoded = await decodeImage(readPhoto('pink-flower.jpg'))

    expect(decoded.hadAlpha).toBe(false)
    expect(decoded.orientation).toBe(1)
  })

  it('converts CMYK ink to sRGB', async () => {
    const cyanInk = await sharp(makeCmykTiff(16, 16, [255, 0, 0, 0]))
      .pipelineColourspace('cmyk')
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toBuffer()
    const noInk = await sharp(makeCmykTiff(16, 16, [0, 0, 0, 0]))
      .pipelineColourspace('cmyk')
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toBuffer()
    const stored = await sharp(cyanInk).metadata()

    const cyan = await decodeImage(cyanInk)
    const paper = await decodeImage(noInk)

    expect([stored.space, stored.channels]).toEqual(['cmyk', 4])
    expect(cyan.inputSpace).toBe('cmyk')
    expect(cyan.image.data.byteLength).toBe(16 * 16 * 3)
    // Full cyan ink absorbs red and reflects green and blue, so its sRGB colour has little red
    // and much blue. libvips' built-in CMYK profile gave (0, 153, 228) with sharp 0.35. The
    // bounds fail a decode that skips the conversion, but leave room for another CMYK profile.
    const [red, green, blue] = pixelAt(cyan.image, 8, 8)
    expect(red).toBeLessThanOrEqual(30)
    expect(green).toBeGreaterThanOrEqual(120)
    expect(green).toBeLessThanOrEqual(200)
    expect(blue).toBeGreaterThanOrEqual(200)
    expectPixelClose(pixelAt(paper.image, 8, 8), [255, 255, 255], TOLERANCE.jpegFlat)
  })

  it('reduces 16-bit PNG to 8-bit', async () => {
    const png16 = await solidImage([200, 100, 50]).toColourspace('rgb16').png().toBuffer()
    const stored = await sharp(png16).metadata()

    const decoded = await decodeImage(png16)

    expect(stored.bitsPerSample).toBe(16)
    expect(decoded.inputBitDepth).toBe(16)
    expect(decoded.image.data.byteLength).toBe(16 * 16 * 3)
    expectPixelClose(pixelAt(decoded.image, 5, 5), [200, 100, 50], 1)
  })

  it('expands palette PNG', async () => {
    const palette = await solidImage([200, 100, 50])
      .composite([
        {
          input: { create: { width: 8, height: 16, channels: 3, background: '#0a14f0' } },
          left: 0,
          top: 0,
        },
      ])
      .png({ palette: true, colours: 4 })
      .toBuffer()
    const stored = await sharp(palette).metadata()

    const decoded = await decodeImage(palette)

    expect(stored.isPalette).toBe(true)
    expect(pixelAt(decoded.image, 2, 2)).toEqual([10, 20, 240])
    expect(pixelAt(decoded.image, 12, 2)).toEqual([200, 100, 50])
  })

  it('converts an embedded ICC profile', async () => {
    // sharp converts the sRGB pixels to Display P3 and embeds that profile, so the stored
    // numbers differ from the colour they describe.
    const p3 = await solidImage([200, 100, 50]).withIccProfile('p3').png().toBuffer()
    const storedNumbers = await sharp(p3, { ignoreIcc: true }).raw().toBuffer()

    const decoded = await decodeImage(p3)

    expect(decoded.hadIccProfile).toBe(true)
    expect(Math.abs((storedNumbers[0] ?? 0) - 200)).toBeGreaterThan(5)
    expectPixelClose(pixelAt(decoded.image, 3, 3), [200, 100, 50], TOLERANCE.icc)
  })

  it('decodes lossless WebP exactly', async () => {
    const original = await decodeImage(readPhoto('navy-officer-portrait-tiny.jpg'))
    const { width, height } = original.image
    const webp = await sharp(original.image.data, { raw: { width, height, channels: 3 } })
      .webp({ lossless: true })
      .toBuffer()

    const decoded = await decodeImage(webp)

    expect(decoded.format).toBe('webp')
    expect(Buffer.from(decoded.image.data).equals(Buffer.from(original.image.data))).toBe(true)
  })

  it('ignores a wrong file extension', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'semani-intake-'))
    try {
      const misnamed = join(folder, 'photo.png')
      writeFileSync(misnamed, readPhoto('pink-flower.jpg'))

      const decoded = await decodeImage(new Uint8Array(readFileSync(misnamed)))

      expect(decoded.format).toBe('jpeg')
      expect([decoded.image.width, decoded.image.height]).toEqual([480, 360])
    } finally {
      rmSync(folder, { recursive: true, force: true })
    }
  })
})

describe('decodeImage rejections', () => {
  it('rejects zero bytes', async () => {
    const error = await catchRunnerError(decodeImage(new Uint8Array(0)))

    expect(error.code).toBe('unsupported-image')
    expect(error.message).toBe('The image is empty (0 bytes). Send a JPEG, PNG or WebP image.')
  })

  it('rejects GIF', async () => {
    const gif = await solidImage([1, 2, 3]).gif().toBuffer()

    const error = await catchRunnerError(decodeImage(gif))

    expect(error.code).toBe('unsupported-image')
    expect(error.message).toBe('GIF images are not supported. Send a JPEG, PNG or WebP image.')
  })

  it('rejects TIFF', async () => {
    const error = await catchRunnerError(decodeImage(makeCmykTiff(4, 4, [0, 0, 0, 0])))

    expect(error.code).toBe('unsupported-image')
    expect(error.message).toBe('TIFF images are not supported. Send a JPEG, PNG or WebP image.')
  })

  it('rejects text', async () => {
    const error = await catchRunnerError(decodeImage(new TextEncoder().encode('<html></html>')))

    expect(error.code).toBe('unsupported-image')
    expect(error.message).toContain('The data is text, not an image.')
  })

  it('rejects a truncated JPEG', async () => {
    const photo = readPhoto('dog-and-owner-with-bowl.jpg')
    const truncated = photo.subarray(0, Math.floor(photo.byteLength * 0.6))

    const error = await catchRunnerError(decodeImage(truncated))

    expect(error.code).toBe('unsupported-image')
    expect(error.message).toBe(
      'The JPEG image could not be decoded (VipsJpeg: premature end of JPEG image). The file ' +
        'may be truncated or damaged. Re-save or re-export it and try again.'
    )
    expect(error.cause).toBeInstanceOf(Error)
  })

  it('rejects a truncated PNG', async () => {
    const photo = readPhoto('coffee-cup-on-saucer.png')
    const truncated = photo.subarray(0, Math.floor(photo.byteLength * 0.6))

    const error = await catchRunnerError(decodeImage(truncated))

    expect(error.code).toBe('unsupported-image')
    expect(error.message).toMatch(/^The PNG image could not be decoded \(.+\)\. The file may be/)
  })

  it('rejects a truncated WebP', async () => {
    const webp = await sharp(readPhoto('pink-flower.jpg')).webp().toBuffer()

    const error = await catchRunnerError(decodeImage(webp.subarray(0, webp.byteLength / 2)))

    expect(error.code).toBe('unsupported-image')
    expect(error.message).toMatch(/^The WebP image could not be decoded/)
  })

  it('rejects damaged JPEG data', async () => {
    // Scrambling 400 bytes of entropy-coded data corrupts a band of blocks. libvips decodes
    // it into garbage at failOn 'error' and rejects it at 'warning'.
    const damaged = new Uint8Array(readPhoto('dog-and-owner-with-bowl.jpg'))
    for (let i = 20_000; i < 20_400; i++) damaged[i] = ((damaged[i] ?? 0) * 7 + 13) & 0xff

    const error = await catchRunnerError(decodeImage(damaged))

    expect(error.code).toBe('unsupported-image')
    expect(error.message).toContain('Corrupt JPEG data')
  })

  it('accepts bytes after the end marker', async () => {
    const photo = readPhoto('pink-flower.jpg')
    const trailing = Buffer.concat([photo, Buffer.from('trailing bytes after EOI')])

    const decoded = await decodeImage(trailing)

    expect([decoded.image.width, decoded.image.height]).toEqual([480, 360])
  })

  it('rejects a 100000x100000 header', async () => {
    const error = await catchRunnerError(decodeImage(makePngHeaderOnly(100_000, 100_000)))

    expect(error.code).toBe('image-too-large')
    expect(error.message).toBe(
      'The image is 100000x100000 (10000000000 pixels), over the limit of 40000000 pixels. ' +
        'Scale it down and try again.'
    )
  })

  it('rejects a side over the limit', async () => {
    const error = await catchRunnerError(decodeImage(makePngHeaderOnly(20, 12_001)))

    expect(error.code).toBe('image-too-large')
    expect(error.message).toContain('its longest side is over the limit of 12000 pixels')
  })

  it('rejects bytes over the limit', async () => {
    const photo = readPhoto('pink-flower.jpg')
    const limits = { ...DEFAULT_IMAGE_LIMITS, maxBytes: photo.byteLength - 1 }

    const error = await catchRunnerError(decodeImage(photo, { limits }))

    expect(error.code).toBe('image-too-large')
    expect(error.message).toContain(`The image is ${photo.byteLength} bytes`)
  })

  it('rejects pixels over a given limit', async () => {
    const limits = { ...DEFAULT_IMAGE_LIMITS, maxPixels: 480 * 360 - 1 }

    const error = await catchRunnerError(decodeImage(readPhoto('pink-flower.jpg'), { limits }))

    expect(error.code).toBe('image-too-large')
    expect(error.message).toContain('The image is 480x360 (172800 pixels)')
  })

  it('rejects animated WebP', async () => {
    const frames = await Promise.all([
      solidImage([255, 0, 0]).png().toBuffer(),
      solidImage([0, 0, 255]).png().toBuffer(),
    ])
    const animated = await sharp(frames, { join: { animated: true } })
      .webp()
      .toBuffer()

    const error = await catchRunnerError(decodeImage(animated))

    expect(error.code).toBe('unsupported-image')
    expect(error.message).toBe(
      'Animated WebP images are not supported. Send a still JPEG, PNG or WebP image.'
    )
  })

  it('rejects APNG', async () => {
    const png = await solidImage([1, 2, 3]).png().toBuffer()

    const error = await catchRunnerError(
      decodeImage(insertPngChunkAfterHeader(png, animationControlChunk(2)))
    )

    expect(error.code).toBe('unsupported-image')
    expect(error.message).toMatch(/^Animated PNG images are not supported/)
  })
})

describe('decodeMaskPng', () => {
  it('reads grayscale values unchanged', async () => {
    const values = Uint8Array.from({ length: 6 * 4 }, (_, i) => (i * 11) % 256)
    const png = await sharp(values, { raw: { width: 6, height: 4, channels: 1 } })
      .png()
      .toBuffer()

    const mask = await decodeMaskPng(png, { width: 6, height: 4 })

    expect([mask.width, mask.height]).toEqual([6, 4])
    expect(Array.from(mask.data)).toEqual(Array.from(values))
  })

  it('reads white-on-black RGB', async () => {
    const rgb = await solidImage([0, 0, 0], { width: 8, height: 8 })
      .composite([
        {
          input: { create: { width: 4, height: 8, channels: 3, background: '#ffffff' } },
          left: 4,
          top: 0,
        },
      ])
      .png()
      .toBuffer()

    const mask = await decodeMaskPng(rgb, { width: 8, height: 8 })

    expect(mask.data[0]).toBe(0)
    expect(mask.data[7]).toBe(255)
  })

  it('treats transparency as keep', async () => {
    const transparentWhite = await sharp({
      create: {
        width: 4,
        height: 4,
        channels: 4,
        background: { r: 255, g: 255, b: 255, alpha: 0 },
      },
    })
      .png()
      .toBuffer()

    const mask = await decodeMaskPng(transparentWhite, { width: 4, height: 4 })

    expect(Array.from(mask.data)).toEqual(new Array(16).fill(0))
  })

  it('reduces 16-bit to 8-bit', async () => {
    const png16 = await solidImage([128, 128, 128], { width: 4, height: 4 })
      .toColourspace('grey16')
      .png()
      .toBuffer()

    const mask = await decodeMaskPng(png16, { width: 4, height: 4 })

    expect(mask.data.byteLength).toBe(16)
    expect(mask.data[5]).toBe(128)
  })

  it('rejects a size mismatch', async () => {
    const png = await solidImage([0, 0, 0], { width: 8, height: 6 }).png().toBuffer()

    const error = await catchRunnerError(decodeMaskPng(png, { width: 6, height: 8 }))

    expect(error.code).toBe('invalid-input')
    expect(error.message).toBe(
      "The mask is 8x6 but the image is 6x8. Send a mask of the image's upright size."
    )
  })

  it('rejects a JPEG mask', async () => {
    const error = await catchRunnerError(
      decodeMaskPng(readPhoto('pink-flower.jpg'), { width: 480, height: 360 })
    )

    expect(error.code).toBe('unsupported-image')
    expect(error.message).toBe('The mask is a JPEG image. Send the mask as a PNG.')
  })

  it('rejects an empty mask', async () => {
    const error = await catchRunnerError(decodeMaskPng(new Uint8Array(0), { width: 1, height: 1 }))

    expect(error.code).toBe('unsupported-image')
    expect(error.message).toMatch(/^Invalid mask: The image is empty/)
  })
})
