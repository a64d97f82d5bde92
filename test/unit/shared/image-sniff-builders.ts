/**
 * Builders of image bytes for the sniffing and intake tests: PNG chunks with valid CRCs, a PNG
 * that is only a header, and solid-colour images made with sharp.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'

import sharp from 'sharp'
import type { Sharp } from 'sharp'

/** Folder of the fixture photos and their `cases.json`. */
export const PHOTOS_DIR = join(import.meta.dirname, '../../fixtures/photos')

export const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** Reads a fixture photo by file name. */
export function readPhoto(file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(PHOTOS_DIR, file)))
}

/** Builds one PNG chunk: length, type, data and the CRC-32 of type and data. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const typeBytes = new TextEncoder().encode(type)
  const chunk = new Uint8Array(12 + data.byteLength)
  const view = new DataView(chunk.buffer)

  view.setUint32(0, data.byteLength)
  chunk.set(typeBytes, 4)
  chunk.set(data, 8)
  view.setUint32(8 + data.byteLength, crc32(chunk.subarray(4, 8 + data.byteLength)))
  return chunk
}

/**
 * Builds a PNG whose IHDR declares `width` x `height` 8-bit RGB but whose IDAT contains an empty
 * zlib stream: a decompression bomb in shape, a few dozen bytes in size.
 */
export function makePngHeaderOnly(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(13)
  const view = new DataView(ihdr.buffer)
  view.setUint32(0, width)
  view.setUint32(4, height)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // colour type: truecolour

  // zlib header 78 9C, an empty final stored block, and the Adler-32 of no data (1).
  const emptyZlib = Uint8Array.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])
  return concatBytes([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', emptyZlib),
    pngChunk('IEND', new Uint8Array(0)),
  ])
}

/** Inserts `chunk` right after the IHDR chunk of `png` (signature 8 bytes + IHDR 25 bytes). */
export function insertPngChunkAfterHeader(png: Uint8Array, chunk: Uint8Array): Uint8Array {
  const headerEnd = 8 + 25
  return concatBytes([png.subarray(0, headerEnd), chunk, png.subarray(headerEnd)])
}

/** Builds an APNG `acTL` chunk: frame count and play count (0 = loop forever). */
export function animationControlChunk(frames: number): Uint8Array {
  const data = new Uint8Array(8)
  new DataView(data.buffer).setUint32(0, frames)
  return pngChunk('acTL', data)
}

/** Starts a sharp pipeline on a solid sRGB image. */
export function solidImage(
  rgb: readonly [number, number, number],
  size: { width: number; height: number } = { width: 16, height: 16 }
): Sharp {
  const [r, g, b] = rgb
  return sharp({ create: { ...size, channels: 3, background: { r, g, b } } })
}

/** Joins byte arrays into one. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0))
  let offset = 0
  for (const part of parts) {
    joined.set(part, offset)
    offset += part.byteLength
  }
  return joined
}

/** Returns the FourCC of the first chunk of a WebP file (`VP8 `, `VP8L` or `VP8X`). */
export function webpFirstChunk(webp: Uint8Array): string {
  return String.fromCharCode(...webp.subarray(12, 16))
}
