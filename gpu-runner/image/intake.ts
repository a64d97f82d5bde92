/**
 * Image intake: turns the caller's encoded image, or a cached mask PNG, into upright 8-bit
 * pixels with sharp.
 *
 * Every input passes the same checks before libvips decodes a pixel. The byte size must be within
 * the limit, and the bytes alone decide the format (a file name or content type plays no part).
 * Width and height come from the header and must be within the pixel and side limits. So a
 * decompression bomb costs a header read, not a 40-gigabyte allocation. sharp's own
 * `limitInputPixels` repeats the pixel check inside libvips.
 */
import assert from 'node:assert/strict'

import sharp from 'sharp'
import type { Metadata, Sharp, SharpOptions } from 'sharp'

import {
  DEFAULT_IMAGE_LIMITS,
  SUPPORTED_FORMATS_TEXT,
  checkImageDimensions,
  formatLabel,
  inspectImage,
} from '../../shared/image-sniff.ts'
import type { ImageHeader, ImageLimits } from '../../shared/image-sniff.ts'
import type { ImageFormat } from '../../shared/limits.ts'
import { RunnerError } from '../errors.ts'
import { log } from '../log.ts'
import type { GrayMask, RgbImage } from './types.ts'

/** Colour that transparent pixels are flattened onto when the caller gives none. */
export const DEFAULT_BACKGROUND: Rgb = [255, 255, 255]

/** Seconds libvips may spend decoding one image before the decode is aborted. */
export const DECODE_TIMEOUT_S = 30

/**
 * Level at which libvips aborts on invalid pixel data. `warning` also rejects damaged
 * entropy-coded JPEG data, which the `error` level decodes into garbage blocks that the edit
 * would then carry into its output. Benign damage still decodes at this level: bytes after the
 * end-of-image marker and extraneous bytes before it (checked with sharp 0.35 and libvips 8.18).
 */
const FAIL_ON = 'warning' satisfies SharpOptions['failOn']

export type Rgb = readonly [number, number, number]

/** Options of `decodeImage`. */
export interface DecodeImageOptions {
  /** Colour, 0-255 per channel, that transparent pixels are flattened onto. Default white. */
  readonly background?: Rgb
  /** Byte, pixel and side limits. Default: the public API's limits. */
  readonly limits?: ImageLimits
  /** Whole seconds before a slow decode fails with `timed-out`. Default `DECODE_TIMEOUT_S`. */
  readonly timeoutS?: number
}

/** An upright 8-bit sRGB image and what decoding changed about the input. */
export interface DecodedImage {
  readonly image: RgbImage
  readonly format: ImageFormat
  /** Whether the input had an alpha channel, which was flattened onto the background. */
  readonly hadAlpha: boolean
  /** EXIF orientation (1-8) that was applied, 1 when the input has none. */
  readonly orientation: number
  /** Width as stored in the file, before orientation. */
  readonly storedWidth: number
  /** Height as stored in the file, before orientation. */
  readonly storedHeight: number
  /** libvips interpretation of the input, such as `srgb`, `b-w`, `cmyk`, `rgb16` or `grey16`. */
  readonly inputSpace: string
  /** Bits per sample of the input: 8, or 16 for 16-bit PNG. */
  readonly inputBitDepth: number
  /** Whether the input embedded an ICC profile, which was used to convert it to sRGB. */
  readonly hadIccProfile: boolean
}

/**
 * Decodes a JPEG, PNG or WebP image into upright, 3-channel, 8-bit sRGB pixels.
 *
 * - EXIF orientation is applied, so `image` is upright and its size is the upright size.
 * - Grayscale, palette, CMYK and 16-bit inputs become 8-bit sRGB. An embedded ICC profile is
 *   used for the conversion. CMYK without a profile goes through libvips' built-in CMYK profile.
 * - Alpha is flattened onto `background` (default white), the usual backdrop for a cutout photo,
 *   and `hadAlpha` reports that the input had an alpha channel.
 * - Animated WebP and APNG are rejected: the edit works on one still frame.
 *
 * @throws RunnerError with one of these codes:
 *   - `unsupported-image`: empty, unknown, unsupported (GIF, TIFF, HEIC…), animated, truncated
 *     or damaged input.
 *   - `image-too-large`: bytes, pixels or the longest side over the limits, checked from the
 *     header before decoding.
 *   - `timed-out`: decoding took longer than `timeoutS`.
 */
export async function decodeImage(
  bytes: Uint8Array,
  options: DecodeImageOptions = {}
): Promise<DecodedImage> {
  const {
    background = DEFAULT_BACKGROUND,
    limits = DEFAULT_IMAGE_LIMITS,
    timeoutS = DECODE_TIMEOUT_S,
  } = options
  // sharp takes whole seconds, and 0 would turn the timeout off.
  if (!Number.isInteger(timeoutS) || timeoutS < 1) {
    throw new RangeError(`timeoutS must be a positive integer, got ${timeoutS}`)
  }
  const started = performance.now()

  const header = inspectOrThrow(bytes, limits, 'image')
  const metadata = await readMetadata(bytes, header, limits)

  const pixels = await decodePixels(bytes, header.format, {
    limits,
    timeoutS,
    prepare: (pipeline) =>
      pipeline.flatten({ background: rgbObject(background) }).toColourspace('srgb'),
  })
  assert.equal(pixels.channels, 3, 'sRGB output of sharp must have 3 channels')

  const decoded: DecodedImage = {
    image: { data: pixels.data, width: pixels.width, height: pixels.height },
    format: header.format,
    hadAlpha: metadata.hasAlpha,
    orientation: metadata.orientation ?? 1,
    storedWidth: metadata.width,
    storedHeight: metadata.height,
    inputSpace: metadata.space,
    inputBitDepth: metadata.depth === 'ushort' ? 16 : 8,
    hadIccProfile: metadata.hasProfile,
  }
  logDecoded(decoded, background, performance.now() - started)
  return decoded
}

/**
 * Decodes a mask PNG into one byte per pixel, checking that it has the expected upright size.
 *
 * Any PNG colour type and bit depth is accepted: colour becomes luminance, 16-bit becomes 8-bit,
 * and transparent pixels count as 0 (keep), because alpha is flattened onto black. EXIF
 * orientation is applied as for images. Values are kept as they are, so a soft mask stays soft.
 *
 * @throws RunnerError `unsupported-image` for a non-PNG, truncated or damaged mask;
 *   `image-too-large` past the limits; `invalid-input` when its size differs from `expected`.
 */
export async function decodeMaskPng(
  bytes: Uint8Array,
  expected: { readonly width: number; readonly height: number },
  options: { readonly limits?: ImageLimits } = {}
): Promise<GrayMask> {
  const { limits = DEFAULT_IMAGE_LIMITS } = options

  const header = inspectOrThrow(bytes, limits, 'mask')
  if (header.format !== 'png') {
    throw new RunnerError(
      'unsupported-image',
      `The mask is a ${formatLabel(header.format)} image. Send the mask as a PNG.`
    )
  }

  const pixels = await decodePixels(bytes, 'png', {
    limits,
    timeoutS: DECODE_TIMEOUT_S,
    prepare: (pipeline) => pipeline.flatten({ background: '#000000' }).toColourspace('b-w'),
  })
  assert.equal(pixels.channels, 1, 'b-w output of sharp must have 1 channel')

  if (pixels.width !== expected.width || pixels.height !== expected.height) {
    throw new RunnerError(
      'invalid-input',
      `The mask is ${pixels.width}x${pixels.height} but the image is ` +
        `${expected.width}x${expected.height}. Send a mask of the image's upright size.`,
      {
        details: {
          maskSize: [pixels.width, pixels.height],
          imageSize: [expected.width, expected.height],
        },
      }
    )
  }
  return { data: pixels.data, width: pixels.width, height: pixels.height }
}

// Runs the header checks of `inspectImage` and rejects animation. Messages about a mask start
// with "Invalid mask:".
function inspectOrThrow(
  bytes: Uint8Array,
  limits: ImageLimits,
  subject: 'image' | 'mask'
): ImageHeader {
  const inspection = inspectImage(bytes, limits)
  if (!inspection.ok) {
    const { slug, detail } = inspection.rejection
    throw new RunnerError(slug, subject === 'mask' ? `Invalid mask: ${detail}` : detail)
  }

  const { header } = inspection
  if (header.animated) {
    throw new RunnerError(
      'unsupported-image',
      `Animated ${formatLabel(header.format)} images are not supported. ` +
        `Send a still ${SUPPORTED_FORMATS_TEXT} image.`
    )
  }
  return header
}

// Reads sharp's metadata, which parses the header again with the decoder libvips will use, and
// repeats the size check on its figures in case they differ from ours.
async function readMetadata(
  bytes: Uint8Array,
  header: ImageHeader,
  limits: ImageLimits
): Promise<Metadata> {
  let metadata: Metadata
  try {
    metadata = await sharp(bytes, {
      failOn: FAIL_ON,
      limitInputPixels: limits.maxPixels,
    }).metadata()
  } catch (error) {
    throw toRunnerError(error, header.format)
  }

  const rejection = checkImageDimensions(metadata.width, metadata.height, limits)
  if (rejection) throw new RunnerError(rejection.slug, rejection.detail)
  return metadata
}

interface RawPixels {
  readonly data: Uint8Array
  readonly width: number
  readonly height: number
  readonly channels: number
}

async function decodePixels(
  bytes: Uint8Array,
  format: ImageFormat,
  options: {
    limits: ImageLimits
    timeoutS: number
    prepare: (pipeline: Sharp) => Sharp
  }
): Promise<RawPixels> {
  const { limits, timeoutS, prepare } = options
  const pipeline = sharp(bytes, {
    failOn: FAIL_ON,
    limitInputPixels: limits.maxPixels,
    autoOrient: true,
  }).timeout({ seconds: timeoutS })

  try {
    const { data, info } = await prepare(pipeline).raw().toBuffer({ resolveWithObject: true })
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
      channels: info.channels,
    }
  } catch (error) {
    throw toRunnerError(error, format, timeoutS)
  }
}

// sharp reports every failure as a plain Error whose message names the cause. A timeout comes from
// libvips as "timeout: N% complete" (sharp 0.35, src/common.cc).
function toRunnerError(error: unknown, format: ImageFormat, timeoutS?: number): RunnerError {
  const reason = error instanceof Error ? error.message : String(error)

  if (timeoutS !== undefined && reason.startsWith('timeout')) {
    return new RunnerError(
      'timed-out',
      `Decoding the ${formatLabel(format)} image took longer than ${timeoutS} s. ` +
        'Send a smaller or simpler image.',
      { cause: error }
    )
  }
  if (reason.includes('exceeds pixel limit')) {
    return new RunnerError('image-too-large', `The image is over the pixel limit (${reason}).`, {
      cause: error,
    })
  }
  return new RunnerError(
    'unsupported-image',
    `The ${formatLabel(format)} image could not be decoded (${reason}). The file may be ` +
      'truncated or damaged. Re-save or re-export it and try again.',
    { cause: error }
  )
}

function logDecoded(decoded: DecodedImage, background: Rgb, durationMs: number): void {
  const { format, image, orientation, inputSpace } = decoded

  if (decoded.hadAlpha) {
    log.warn('image.alpha_flattened', {
      format,
      width: image.width,
      height: image.height,
      background,
    })
  }
  log.debug('image.decoded', {
    format,
    width: image.width,
    height: image.height,
    orientation,
    inputSpace,
    durationMs: Math.round(durationMs),
  })
}

function rgbObject([r, g, b]: Rgb): { r: number; g: number; b: number } {
  return { r, g, b }
}
