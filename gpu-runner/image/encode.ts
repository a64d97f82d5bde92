/**
 * Output encoding of edited images and masks with sharp.
 *
 * The encoders start from raw pixels, so no metadata of the input (EXIF, XMP, ICC) can reach the
 * output: orientation is already applied to the pixels, and the untagged 8-bit RGB is read as
 * sRGB by browsers and decoders. No ICC profile is embedded. Settings are fixed and carry no
 * timestamp, so the same pixels and options always give the same bytes.
 */
import sharp from 'sharp'
import type { Sharp } from 'sharp'

import type { ImageFormat } from '../../shared/limits.ts'
import type { GrayMask, RgbImage } from './types.ts'

/** JPEG quality when the caller gives none. */
export const DEFAULT_JPEG_QUALITY = 92

/** Lossy WebP quality when the caller gives none. */
export const DEFAULT_WEBP_QUALITY = 90

/** zlib compression level of PNG output, the same as sharp's default. */
export const PNG_COMPRESSION_LEVEL = 6

/** Options of `encodeImage`. */
export interface EncodeImageOptions {
  /** JPEG quality, 1-100. Default `DEFAULT_JPEG_QUALITY`. */
  readonly jpegQuality?: number
  /** Lossy WebP quality, 1-100. Default `DEFAULT_WEBP_QUALITY`. */
  readonly webpQuality?: number
  /** Encode WebP losslessly, which keeps every pixel as PNG does. Default false. */
  readonly webpLossless?: boolean
}

/**
 * Encodes upright 8-bit sRGB pixels as PNG, JPEG or WebP, with no metadata.
 *
 * - PNG: 8-bit RGB, lossless, zlib level `PNG_COMPRESSION_LEVEL`.
 * - JPEG: baseline, quality `DEFAULT_JPEG_QUALITY`, 4:4:4 chroma. Full-resolution chroma keeps
 *   the colour edges of an edited entity as sharp as its luminance, where 4:2:0 would blur them
 *   over two pixels.
 * - WebP: lossy at `DEFAULT_WEBP_QUALITY`, or lossless with `webpLossless`.
 *
 * @throws RangeError when the pixel buffer does not match the width and height, or an option is
 *   out of range.
 */
export async function encodeImage(
  image: RgbImage,
  format: ImageFormat,
  options: EncodeImageOptions = {}
): Promise<Uint8Array> {
  const {
    jpegQuality = DEFAULT_JPEG_QUALITY,
    webpQuality = DEFAULT_WEBP_QUALITY,
    webpLossless = false,
  } = options
  assertPixelBuffer(image, 3, 'RgbImage')
  assertQuality('jpegQuality', jpegQuality)
  assertQuality('webpQuality', webpQuality)

  const pipeline = fromRaw(image, 3)
  const encoded = await applyFormat(pipeline, format, {
    jpegQuality,
    webpQuality,
    webpLossless,
  }).toBuffer()
  return toUint8Array(encoded)
}

/**
 * Encodes a mask as an 8-bit grayscale PNG (colour type 0), one sample per pixel as stored.
 *
 * @throws RangeError when the mask buffer does not match its width and height.
 */
export async function encodeMaskPng(mask: GrayMask): Promise<Uint8Array> {
  assertPixelBuffer(mask, 1, 'GrayMask')

  // Without `b-w`, sharp converts one-channel input to sRGB and writes an RGB PNG.
  const encoded = await fromRaw(mask, 1)
    .toColourspace('b-w')
    .png({ compressionLevel: PNG_COMPRESSION_LEVEL, palette: false })
    .toBuffer()
  return toUint8Array(encoded)
}

function applyFormat(
  pipeline: Sharp,
  format: ImageFormat,
  settings: Required<EncodeImageOptions>
): Sharp {
  switch (format) {
    case 'png':
      return pipeline.png({ compressionLevel: PNG_COMPRESSION_LEVEL, palette: false })
    case 'jpeg':
      return pipeline.jpeg({
        quality: settings.jpegQuality,
        chromaSubsampling: '4:4:4',
        progressive: false,
        mozjpeg: false,
      })
    case 'webp':
      return settings.webpLossless
        ? pipeline.webp({ lossless: true })
        : pipeline.webp({ quality: settings.webpQuality })
    default: {
      const unhandled: never = format
      throw new RangeError(`Unknown output format ${String(unhandled)}`)
    }
  }
}

function fromRaw(pixels: RgbImage | GrayMask, channels: 1 | 3): Sharp {
  return sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels } })
}

function assertPixelBuffer(pixels: RgbImage | GrayMask, channels: number, typeName: string): void {
  const { width, height, data } = pixels
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${typeName} size must be positive integers, got ${width}x${height}`)
  }
  const expectedBytes = width * height * channels
  if (data.byteLength !== expectedBytes) {
    throw new RangeError(
      `${typeName} of ${width}x${height} needs ${expectedBytes} bytes, got ${data.byteLength}`
    )
  }
}

function assertQuality(name: string, quality: number): void {
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new RangeError(`${name} must be an integer from 1 to 100, got ${quality}`)
  }
}

function toUint8Array(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}
