import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import sharp from 'sharp'
import { describe, expect, it } from 'vitest'

import {
  checkImageBytes,
  checkImageDimensions,
  inspectImage,
  readImageHeader,
  sniffImage,
  sniffImageFormat,
} from '../../../shared/image-sniff.ts'
import { MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from '../../../shared/limits.ts'
import {
  PHOTOS_DIR,
  animationControlChunk,
  concatBytes,
  insertPngChunkAfterHeader,
  makePngHeaderOnly,
  readPhoto,
  solidImage,
  webpFirstChunk,
} from './image-sniff-builders.ts'

interface PhotoCase {
  file: string
  format: string
}

const photoCases = JSON.parse(
  readFileSync(join(PHOTOS_DIR, 'cases.json'), 'utf8')
) as readonly PhotoCase[]

describe('sniffImage', () => {
  it('identifies every fixture photo', () => {
    for (const photo of photoCases) {
      expect(sniffImageFormat(readPhoto(photo.file)), photo.file).toBe(photo.format)
    }
  })

  it('identifies WebP', async () => {
    const webp = await solidImage([10, 20, 30]).webp().toBuffer()

    expect(sniffImage(webp)).toEqual({ kind: 'supported', format: 'webp' })
  })

  it('names GIF, TIFF and AVIF', async () => {
    const gif = await solidImage([10, 20, 30]).gif().toBuffer()
    const tiff = await solidImage([10, 20, 30]).tiff().toBuffer()
    const avif = await solidImage([10, 20, 30]).avif().toBuffer()

    expect(sniffImage(gif)).toEqual({ kind: 'unsupported', name: 'GIF' })
    expect(sniffImage(tiff)).toEqual({ kind: 'unsupported', name: 'TIFF' })
    expect(sniffImage(avif)).toEqual({ kind: 'unsupported', name: 'AVIF' })
  })

  it('names HEIC by its ftyp brand', () => {
    // ISO BMFF: box size (4), "ftyp", major brand "heic", minor version.
    const heic = concatBytes([
      Uint8Array.from([0, 0, 0, 24]),
      new TextEncoder().encode('ftypheic'),
      new Uint8Array(12),
    ])

    expect(sniffImage(heic)).toEqual({ kind: 'unsupported', name: 'HEIC/HEIF' })
  })

  it('names PDF and BMP', () => {
    const pdf = new TextEncoder().encode('%PDF-1.7\n%\xe2\xe3')
    const bmp = concatBytes([new TextEncoder().encode('BM'), Uint8Array.from([0x36, 0x10, 0, 0])])

    expect(sniffImage(pdf)).toEqual({ kind: 'unsupported', name: 'PDF' })
    expect(sniffImage(bmp)).toEqual({ kind: 'unsupported', name: 'BMP' })
  })

  it('tells text from unknown binary data', () => {
    const json = new TextEncoder().encode('{"image_url": "https://example.com/a.jpg"}')

    expect(sniffImage(json)).toEqual({ kind: 'unsupported', name: 'text' })
    expect(sniffImage(Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8]))).toEqual({ kind: 'unknown' })
  })
})

describe('readImageHeader', () => {
  it('matches sharp on every fixture photo', async () => {
    for (const photo of photoCases) {
      const bytes = readPhoto(photo.file)
      // sharp's metadata (libvips) reads the stored size, before EXIF orientation, as we do.
      const reference = await sharp(bytes).metadata()

      expect(readImageHeader(bytes), photo.file).toEqual({
        ok: true,
        header: {
          format: photo.format,
          width: reference.width,
          height: reference.height,
          animated: false,
        },
      })
    }
  })

  it('reads lossy, lossless and extended WebP', async () => {
    const size = { width: 37, height: 23 }
    const lossy = await solidImage([200, 100, 50], size).webp().toBuffer()
    const lossless = await solidImage([200, 100, 50], size).webp({ lossless: true }).toBuffer()
    const withAlpha = await solidImage([200, 100, 50], size).ensureAlpha(0.5).webp().toBuffer()
    const expected = { ok: true, header: { format: 'webp', ...size, animated: false } }

    expect(webpFirstChunk(lossy)).toBe('VP8 ')
    expect(readImageHeader(lossy)).toEqual(expected)
    expect(webpFirstChunk(lossless)).toBe('VP8L')
    expect(readImageHeader(lossless)).toEqual(expected)
    expect(webpFirstChunk(withAlpha)).toBe('VP8X')
    expect(readImageHeader(withAlpha)).toEqual(expected)
  })

  it('flags animated WebP', async () => {
    const frames = await Promise.all([
      solidImage([255, 0, 0]).png().toBuffer(),
      solidImage([0, 0, 255]).png().toBuffer(),
    ])
    const animated = await sharp(frames, { join: { animated: true } })
      .webp()
      .toBuffer()

    expect(readImageHeader(animated)).toEqual({
      ok: true,
      header: { format: 'webp', width: 16, height: 16, animated: true },
    })
  })

  it('flags APNG', async () => {
    const png = await solidImage([1, 2, 3]).png().toBuffer()
    const apng = insertPngChunkAfterHeader(png, animationControlChunk(2))

    expect(readImageHeader(apng)).toMatchObject({ ok: true, header: { animated: true } })
  })

  it('reads a PNG header of 100000x100000', () => {
    const bomb = makePngHeaderOnly(100_000, 100_000)

    expect(readImageHeader(bomb)).toEqual({
      ok: true,
      header: { format: 'png', width: 100_000, height: 100_000, animated: false },
    })
  })

  it('rejects empty data', () => {
    expect(readImageHeader(new Uint8Array(0))).toMatchInlineSnapshot(`
      {
        "ok": false,
        "rejection": {
          "detail": "The image is empty (0 bytes). Send a JPEG, PNG or WebP image.",
          "slug": "unsupported-image",
        },
      }
    `)
  })

  it('rejects GIF with the supported list', async () => {
    const gif = await solidImage([10, 20, 30]).gif().toBuffer()

    expect(readImageHeader(gif)).toEqual({
      ok: false,
      rejection: {
        slug: 'unsupported-image',
        detail: 'GIF images are not supported. Send a JPEG, PNG or WebP image.',
      },
    })
  })

  it('rejects text without echoing it', () => {
    const text = new TextEncoder().encode('https://example.com/photo.jpg?token=secret')
    const result = readImageHeader(text)

    expect(result).toEqual({
      ok: false,
      rejection: {
        slug: 'unsupported-image',
        detail: 'The data is text, not an image. Send the bytes of a JPEG, PNG or WebP image.',
      },
    })
  })

  it('rejects unknown bytes, showing them', () => {
    const result = readImageHeader(Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))

    expect(result).toEqual({
      ok: false,
      rejection: {
        slug: 'unsupported-image',
        detail:
          'The data is not a JPEG, PNG or WebP image (it starts with bytes ' +
          '00 01 02 03 04 05 06 07). Send a JPEG, PNG or WebP image.',
      },
    })
  })

  it('rejects a PNG cut inside IHDR', () => {
    const cut = readPhoto('coffee-cup-on-saucer.png').subarray(0, 20)

    expect(readImageHeader(cut)).toEqual({
      ok: false,
      rejection: {
        slug: 'unsupported-image',
        detail:
          'The PNG header is invalid: the file ends inside the IHDR chunk. The file may be ' +
          'truncated or damaged. Re-save or re-export it and try again.',
      },
    })
  })

  it('rejects a JPEG cut before its frame header', () => {
    // The SOF0 marker of this photo sits at byte 1243, after its APPn and DQT segments.
    const cut = readPhoto('dog-and-owner-with-bowl.jpg').subarray(0, 1200)

    expect(readImageHeader(cut)).toMatchObject({
      ok: false,
      rejection: { slug: 'unsupported-image' },
    })
    expect(readImageHeader(cut)).toHaveProperty(
      'rejection.detail',
      expect.stringContaining('the file ends before the frame header')
    )
  })

  it('rejects a JPEG scan before any frame', () => {
    // SOI, then SOS: entropy-coded data with no frame header to give its size.
    const noFrame = Uint8Array.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x08, 1, 1, 0, 0, 0x3f, 0])

    expect(readImageHeader(noFrame)).toHaveProperty(
      'rejection.detail',
      expect.stringContaining('the scan starts before any frame header')
    )
  })

  it('rejects a WebP with an unknown chunk', async () => {
    const webp = new Uint8Array(await solidImage([1, 2, 3]).webp().toBuffer())
    webp.set(new TextEncoder().encode('ABCD'), 12)

    expect(readImageHeader(webp)).toHaveProperty(
      'rejection.detail',
      expect.stringContaining('the first chunk is "ABCD", not VP8, VP8L or VP8X')
    )
  })
})

describe('inspectImage', () => {
  it('accepts a fixture photo', () => {
    expect(inspectImage(readPhoto('pink-flower.jpg'))).toEqual({
      ok: true,
      header: { format: 'jpeg', width: 480, height: 360, animated: false },
    })
  })

  it('rejects a decompression bomb', () => {
    const bomb = makePngHeaderOnly(100_000, 100_000)

    expect(bomb.byteLength).toBeLessThan(100)
    expect(inspectImage(bomb)).toMatchInlineSnapshot(`
      {
        "ok": false,
        "rejection": {
          "detail": "The image is 100000x100000 (10000000000 pixels), over the limit of 40000000 pixels. Scale it down and try again.",
          "slug": "image-too-large",
        },
      }
    `)
  })

  it('rejects a side over the limit', () => {
    const strip = makePngHeaderOnly(MAX_IMAGE_SIDE + 1, 10)

    expect(inspectImage(strip)).toEqual({
      ok: false,
      rejection: {
        slug: 'image-too-large',
        detail:
          `The image is ${MAX_IMAGE_SIDE + 1}x10; its longest side is over the limit of ` +
          `${MAX_IMAGE_SIDE} pixels. Scale it down and try again.`,
      },
    })
  })

  it('rejects bytes over the limit', () => {
    const tooLong = new Uint8Array(MAX_IMAGE_BYTES + 1)
    tooLong.set(readPhoto('pink-flower.jpg'))

    expect(inspectImage(tooLong)).toMatchObject({
      ok: false,
      rejection: { slug: 'image-too-large' },
    })
  })

  it('applies caller limits', () => {
    const photo = readPhoto('pink-flower.jpg')
    const limits = { maxBytes: MAX_IMAGE_BYTES, maxPixels: 480 * 360 - 1, maxSide: 480 }

    expect(inspectImage(photo, limits)).toMatchObject({ ok: false })
    expect(inspectImage(photo, { ...limits, maxPixels: 480 * 360 })).toMatchObject({ ok: true })
  })
})

describe('checkImageDimensions', () => {
  it('accepts sizes at the limits', () => {
    expect(checkImageDimensions(MAX_IMAGE_SIDE, 10)).toBeUndefined()
    expect(checkImageDimensions(MAX_IMAGE_PIXELS / 4000, 4000)).toBeUndefined()
  })

  it('rejects one pixel over', () => {
    const limits = { maxBytes: MAX_IMAGE_BYTES, maxPixels: 100, maxSide: 100 }

    expect(checkImageDimensions(101, 1, limits)?.slug).toBe('image-too-large')
    expect(checkImageDimensions(11, 10, { ...limits, maxSide: 1000 })?.detail).toBe(
      'The image is 11x10 (110 pixels), over the limit of 100 pixels. Scale it down and try again.'
    )
  })
})

describe('checkImageBytes', () => {
  it('states size and limit', () => {
    expect(checkImageBytes(MAX_IMAGE_BYTES)).toBeUndefined()
    expect(checkImageBytes(MAX_IMAGE_BYTES + 1)?.detail).toBe(
      `The image is ${MAX_IMAGE_BYTES + 1} bytes, over the limit of ${MAX_IMAGE_BYTES} bytes ` +
        '(20 MiB). Send a smaller file.'
    )
  })
})
