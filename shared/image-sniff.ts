/**
 * Image type sniffing and header reading without decoding pixels.
 *
 * Both sides run this code: the edge checks an upload's format and pixel count before it stores
 * anything, and the runner does the same before sharp decodes the pixels. It uses no Node or
 * Workers API, only byte reads, so it runs unchanged in either runtime.
 *
 * The bytes alone decide the format; a file name or declared content type plays no part. Width
 * and height are the stored size, before any EXIF orientation. Pixel count and longest side do
 * not change under rotation, so the limit checks give the same answer either way.
 *
 * Header layouts follow the format specifications: PNG (W3C PNG 3rd edition, IHDR and the APNG
 * `acTL` chunk), JPEG (ITU-T T.81 annex B, frame header of the SOFn markers) and WebP (RFC 9649:
 * the `VP8 `, `VP8L` and `VP8X` chunks).
 *
 * Map: types and limits, the exported checks (`sniffImage`, `inspectImage`, `readImageHeader`,
 * `checkImageBytes`, `checkImageDimensions`), one header parser per format, then byte readers.
 */
import { MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from './limits.ts'
import type { ImageFormat } from './limits.ts'

/** The accepted formats as callers read them in error messages. */
export const SUPPORTED_FORMATS_TEXT = 'JPEG, PNG or WebP'

/** Format identified from the first bytes of a file. */
export type SniffResult =
  | { readonly kind: 'supported'; readonly format: ImageFormat }
  /** A known format this API does not accept: its common name (`GIF`) or `TEXT_NAME`. */
  | { readonly kind: 'unsupported'; readonly name: string }
  | { readonly kind: 'unknown' }

/** Format, stored size and animation flag of an image, read from its header. */
export interface ImageHeader {
  readonly format: ImageFormat
  /** Stored width in pixels, before EXIF orientation. */
  readonly width: number
  /** Stored height in pixels, before EXIF orientation. */
  readonly height: number
  /** True for an animated WebP (VP8X animation flag) or an APNG (`acTL` chunk before IDAT). */
  readonly animated: boolean
}

/** Reason to reject an image, named by the problem slug both sides report it as. */
export interface ImageRejection {
  readonly slug: 'unsupported-image' | 'image-too-large'
  /** Message for the caller: what is wrong, with the values, and what to send instead. */
  readonly detail: string
}

export type ImageInspection =
  | { readonly ok: true; readonly header: ImageHeader }
  | { readonly ok: false; readonly rejection: ImageRejection }

/** Byte, pixel and side limits an image must stay within. */
export interface ImageLimits {
  readonly maxBytes: number
  readonly maxPixels: number
  readonly maxSide: number
}

/** The limits of the public API, from `limits.ts`. */
export const DEFAULT_IMAGE_LIMITS: ImageLimits = {
  maxBytes: MAX_IMAGE_BYTES,
  maxPixels: MAX_IMAGE_PIXELS,
  maxSide: MAX_IMAGE_SIDE,
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

// ISO BMFF brands (bytes 8-11 after `ftyp`) of the HEIF family, which includes AVIF.
const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'])
const AVIF_BRANDS = new Set(['avif', 'avis'])

// Bytes checked when telling text from binary data, enough to cover a short JSON or HTML head.
const TEXT_PROBE_BYTES = 64

/** `SniffResult` name of data that is printable text (JSON, HTML, SVG, a URL, base64). */
export const TEXT_NAME = 'text'

/**
 * Identifies the format of `bytes` from their signature.
 *
 * @example
 * sniffImage(bytes) // { kind: 'supported', format: 'png' } or { kind: 'unsupported', name: 'GIF' }
 */
export function sniffImage(bytes: Uint8Array): SniffResult {
  if (startsWith(bytes, PNG_SIGNATURE)) return { kind: 'supported', format: 'png' }
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { kind: 'supported', format: 'jpeg' }
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') {
    return { kind: 'supported', format: 'webp' }
  }

  const name = nameUnsupportedFormat(bytes)
  return name === undefined ? { kind: 'unknown' } : { kind: 'unsupported', name }
}

/** Returns the accepted format of `bytes`, or undefined for anything else. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const sniffed = sniffImage(bytes)
  return sniffed.kind === 'supported' ? sniffed.format : undefined
}

/**
 * Checks byte size, format and dimensions of an encoded image without decoding its pixels.
 *
 * Use it on untrusted uploads before storing or decoding them: a decompression bomb of a few
 * kilobytes that declares 100000x100000 pixels is rejected here from its header alone.
 *
 * @example
 * const inspection = inspectImage(bytes)
 * if (!inspection.ok) throw new ApiProblem(inspection.rejection.slug, inspection.rejection.detail)
 */
export function inspectImage(
  bytes: Uint8Array,
  limits: ImageLimits = DEFAULT_IMAGE_LIMITS
): ImageInspection {
  const sizeRejection = checkImageBytes(bytes.byteLength, limits)
  if (sizeRejection) return { ok: false, rejection: sizeRejection }

  const read = readImageHeader(bytes)
  if (!read.ok) return read

  const { width, height } = read.header
  const dimensionRejection = checkImageDimensions(width, height, limits)
  return dimensionRejection ? { ok: false, rejection: dimensionRejection } : read
}

/** Reads format, stored size and animation flag from the header of `bytes`. */
export function readImageHeader(bytes: Uint8Array): ImageInspection {
  if (bytes.byteLength === 0) {
    return unsupported(`The image is empty (0 bytes). Send a ${SUPPORTED_FORMATS_TEXT} image.`)
  }

  const sniffed = sniffImage(bytes)
  if (sniffed.kind === 'unsupported' && sniffed.name === TEXT_NAME) {
    return unsupported(
      `The data is text, not an image. Send the bytes of a ${SUPPORTED_FORMATS_TEXT} image.`
    )
  }
  if (sniffed.kind === 'unsupported') {
    return unsupported(
      `${sniffed.name} images are not supported. Send a ${SUPPORTED_FORMATS_TEXT} image.`
    )
  }
  if (sniffed.kind === 'unknown') {
    return unsupported(
      `The data is not a ${SUPPORTED_FORMATS_TEXT} image (it starts with bytes ` +
        `${hexPrefix(bytes)}). Send a ${SUPPORTED_FORMATS_TEXT} image.`
    )
  }

  const parsed = parseHeader(sniffed.format, bytes)
  if (typeof parsed === 'string') {
    return unsupported(
      `The ${formatLabel(sniffed.format)} header is invalid: ${parsed}. ` +
        'The file may be truncated or damaged. Re-save or re-export it and try again.'
    )
  }
  return { ok: true, header: { format: sniffed.format, ...parsed } }
}

/** Rejects an encoded size over `limits.maxBytes`. */
export function checkImageBytes(
  sizeBytes: number,
  limits: ImageLimits = DEFAULT_IMAGE_LIMITS
): ImageRejection | undefined {
  if (sizeBytes <= limits.maxBytes) return undefined

  return {
    slug: 'image-too-large',
    detail:
      `The image is ${sizeBytes} bytes, over the limit of ${limits.maxBytes} bytes ` +
      `(${formatMebibytes(limits.maxBytes)}). Send a smaller file.`,
  }
}

/** Rejects a size whose pixel count or longest side is over `limits`. */
export function checkImageDimensions(
  width: number,
  height: number,
  limits: ImageLimits = DEFAULT_IMAGE_LIMITS
): ImageRejection | undefined {
  const pixels = width * height
  if (pixels > limits.maxPixels) {
    return {
      slug: 'image-too-large',
      detail:
        `The image is ${width}x${height} (${pixels} pixels), over the limit of ` +
        `${limits.maxPixels} pixels. Scale it down and try again.`,
    }
  }
  if (Math.max(width, height) > limits.maxSide) {
    return {
      slug: 'image-too-large',
      detail:
        `The image is ${width}x${height}; its longest side is over the limit of ` +
        `${limits.maxSide} pixels. Scale it down and try again.`,
    }
  }
  return undefined
}

/** Returns the format's usual written name: `JPEG`, `PNG` or `WebP`. */
export function formatLabel(format: ImageFormat): string {
  return format === 'webp' ? 'WebP' : format.toUpperCase()
}

type ParsedHeader = Omit<ImageHeader, 'format'>

// Returns the parsed header, or a short reason (lower case, no full stop) when it is invalid.
function parseHeader(format: ImageFormat, bytes: Uint8Array): ParsedHeader | string {
  switch (format) {
    case 'png':
      return parsePngHeader(bytes)
    case 'jpeg':
      return parseJpegHeader(bytes)
    case 'webp':
      return parseWebpHeader(bytes)
    default: {
      const unhandled: never = format
      throw new TypeError(`No header parser for ${String(unhandled)}`)
    }
  }
}

function parsePngHeader(bytes: Uint8Array): ParsedHeader | string {
  // Signature (8), then IHDR: length (4), type (4), width (4), height (4), five 1-byte fields.
  if (bytes.byteLength < 8 + 8 + 13) return 'the file ends inside the IHDR chunk'
  if (ascii(bytes, 12, 4) !== 'IHDR') return 'the first chunk is not IHDR'

  const width = readUint32Be(bytes, 16)
  const height = readUint32Be(bytes, 20)
  if (width === 0 || height === 0) return `IHDR declares a size of ${width}x${height}`

  return { width, height, animated: hasPngChunkBeforeData(bytes, 'acTL') }
}

// Walks the chunks after IHDR up to the first IDAT. APNG requires acTL before IDAT.
function hasPngChunkBeforeData(bytes: Uint8Array, chunkType: string): boolean {
  let offset = 8
  while (offset + 8 <= bytes.byteLength) {
    const type = ascii(bytes, offset + 4, 4)
    if (type === chunkType) return true
    if (type === 'IDAT') return false
    // Length, type and CRC take 12 bytes besides the data.
    offset += 12 + readUint32Be(bytes, offset)
  }
  return false
}

// Start-of-frame markers carry the frame size: SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC).
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc
}

// Standalone markers have no length field: TEM (01), RST0-RST7 (D0-D7) and SOI (D8).
function isStandaloneMarker(marker: number): boolean {
  return marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)
}

function parseJpegHeader(bytes: Uint8Array): ParsedHeader | string {
  let offset = 2
  while (offset + 4 <= bytes.byteLength) {
    if (bytes[offset] !== 0xff) return `no marker at byte ${offset}`
    const marker = bytes[offset + 1] ?? 0
    if (marker === 0xff) {
      // A marker may be preceded by any number of 0xFF fill bytes.
      offset += 1
      continue
    }
    if (isStandaloneMarker(marker)) {
      offset += 2
      continue
    }
    if (marker === 0xda || marker === 0xd9) return 'the scan starts before any frame header'

    const segmentLength = readUint16Be(bytes, offset + 2)
    if (segmentLength < 2) return `segment at byte ${offset} has length ${segmentLength}`
    if (isStartOfFrame(marker)) return readJpegFrameSize(bytes, offset)
    offset += 2 + segmentLength
  }
  return 'the file ends before the frame header'
}

// Frame header after the marker and length: precision (1), height (2), width (2).
function readJpegFrameSize(bytes: Uint8Array, markerOffset: number): ParsedHeader | string {
  if (markerOffset + 9 > bytes.byteLength) return 'the file ends inside the frame header'

  const height = readUint16Be(bytes, markerOffset + 5)
  const width = readUint16Be(bytes, markerOffset + 7)
  // Height 0 defers the height to a DNL marker after the first scan. This parser does not read
  // that far, so it rejects the file.
  if (width === 0 || height === 0) return `the frame header declares a size of ${width}x${height}`

  return { width, height, animated: false }
}

function parseWebpHeader(bytes: Uint8Array): ParsedHeader | string {
  // RIFF header (12), then the first chunk: FourCC (4), size (4), data from byte 20.
  const chunk = ascii(bytes, 12, 4)
  if (bytes.byteLength < 30) return 'the file ends inside the first chunk'

  switch (chunk) {
    case 'VP8 ': {
      // Frame tag (3 bytes), start code 9D 01 2A, then 14-bit width and height, little-endian.
      if (bytes[23] !== 0x9d || bytes[24] !== 0x01 || bytes[25] !== 0x2a) {
        return 'the VP8 start code is missing'
      }
      const width = readUint16Le(bytes, 26) & 0x3fff
      const height = readUint16Le(bytes, 28) & 0x3fff
      if (width === 0 || height === 0) return `VP8 declares a size of ${width}x${height}`
      return { width, height, animated: false }
    }
    case 'VP8L': {
      // Signature 0x2F, then width - 1 and height - 1 as 14-bit fields, least significant first.
      if (bytes[20] !== 0x2f) return 'the VP8L signature is missing'
      const bits = readUint32Le(bytes, 21)
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, animated: false }
    }
    case 'VP8X': {
      // Flags (1), reserved (3), then canvas width - 1 and height - 1 as 24-bit fields.
      const animationFlag = 0x02
      const animated = ((bytes[20] ?? 0) & animationFlag) !== 0
      return { width: readUint24Le(bytes, 24) + 1, height: readUint24Le(bytes, 27) + 1, animated }
    }
    default:
      return `the first chunk is ${JSON.stringify(chunk)}, not VP8, VP8L or VP8X`
  }
}

function nameUnsupportedFormat(bytes: Uint8Array): string | undefined {
  const head4 = ascii(bytes, 0, 4)
  if (head4 === 'GIF8') return 'GIF'
  if (head4 === 'II*\0' || head4 === 'MM\0*') return 'TIFF'
  if (head4 === '%PDF') return 'PDF'
  if (head4 === '8BPS') return 'Photoshop (PSD)'
  // Text goes before BMP, whose 2-byte signature "BM" could also start a line of text.
  if (looksLikeText(bytes)) return TEXT_NAME
  if (ascii(bytes, 0, 2) === 'BM') return 'BMP'
  if (startsWith(bytes, [0xff, 0x0a]) || ascii(bytes, 4, 8) === 'JXL \r\n\x87\n') return 'JPEG XL'
  if (ascii(bytes, 4, 8) === 'jP  \r\n\x87\n' || startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])) {
    return 'JPEG 2000'
  }
  if (ascii(bytes, 4, 4) === 'ftyp') {
    const brand = ascii(bytes, 8, 4)
    if (AVIF_BRANDS.has(brand)) return 'AVIF'
    if (HEIF_BRANDS.has(brand)) return 'HEIC/HEIF'
  }
  return undefined
}

// Printable ASCII and common whitespace only: JSON, HTML, SVG, a pasted URL or base64 string.
function looksLikeText(bytes: Uint8Array): boolean {
  const probe = bytes.subarray(0, TEXT_PROBE_BYTES)
  if (probe.byteLength === 0) return false
  return probe.every(
    (byte) => (byte >= 0x20 && byte < 0x7f) || byte === 0x09 || byte === 0x0a || byte === 0x0d
  )
}

function unsupported(detail: string): ImageInspection {
  return { ok: false, rejection: { slug: 'unsupported-image', detail } }
}

function hexPrefix(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 8), (byte) => byte.toString(16).padStart(2, '0')).join(' ')
}

function formatMebibytes(sizeBytes: number): string {
  return `${Number((sizeBytes / (1024 * 1024)).toFixed(1))} MiB`
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.byteLength >= prefix.length && prefix.every((byte, i) => bytes[i] === byte)
}

// Latin-1 view of a byte range. It is shorter than `length` when the data ends first.
function ascii(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length))
}

function readUint16Be(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] ?? 0) << 8) | (bytes[offset + 1] ?? 0)
}

function readUint32Be(bytes: Uint8Array, offset: number): number {
  return ((readUint16Be(bytes, offset) << 16) >>> 0) + readUint16Be(bytes, offset + 2)
}

function readUint16Le(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] ?? 0) | ((bytes[offset + 1] ?? 0) << 8)
}

function readUint24Le(bytes: Uint8Array, offset: number): number {
  return readUint16Le(bytes, offset) | ((bytes[offset + 2] ?? 0) << 16)
}

function readUint32Le(bytes: Uint8Array, offset: number): number {
  return (readUint24Le(bytes, offset) | ((bytes[offset + 3] ?? 0) << 24)) >>> 0
}
