/**
 * Builds an uncompressed CMYK TIFF of one ink colour. sharp cannot make CMYK pixels from raw
 * input (raw 4-channel data is read as RGBA), so the tests start from this file to get a CMYK
 * image whose ink values are known exactly.
 *
 * Layout (TIFF 6.0, little-endian): header, one IFD, the BitsPerSample array, one strip.
 */

/** Ink amounts 0-255: cyan, magenta, yellow, black. */
export type Ink = readonly [number, number, number, number]

const SHORT = 3
const LONG = 4

/** Returns TIFF bytes of a `width` x `height` image filled with `ink`. */
export function makeCmykTiff(width: number, height: number, ink: Ink): Uint8Array {
  const stripBytes = width * height * 4
  const entryCount = 11
  const ifdOffset = 8
  const bitsPerSampleOffset = ifdOffset + 2 + entryCount * 12 + 4
  const stripOffset = bitsPerSampleOffset + 4 * 2

  // [tag, type, value]: each entry has count 1 except BitsPerSample, which points to 4 shorts.
  const entries: readonly (readonly [number, number, number])[] = [
    [256, LONG, width], // ImageWidth
    [257, LONG, height], // ImageLength
    [258, SHORT, bitsPerSampleOffset], // BitsPerSample (count 4, stored at the offset)
    [259, SHORT, 1], // Compression: none
    [262, SHORT, 5], // PhotometricInterpretation: separated (CMYK)
    [273, LONG, stripOffset], // StripOffsets
    [277, SHORT, 4], // SamplesPerPixel
    [278, LONG, height], // RowsPerStrip
    [279, LONG, stripBytes], // StripByteCounts
    [284, SHORT, 1], // PlanarConfiguration: chunky
    [332, SHORT, 1], // InkSet: CMYK
  ]

  const bytes = new Uint8Array(stripOffset + stripBytes)
  const view = new DataView(bytes.buffer)
  bytes.set([0x49, 0x49]) // "II": little-endian
  view.setUint16(2, 42, true)
  view.setUint32(4, ifdOffset, true)
  view.setUint16(ifdOffset, entries.length, true)

  entries.forEach(([tag, type, value], index) => {
    const at = ifdOffset + 2 + index * 12
    view.setUint16(at, tag, true)
    view.setUint16(at + 2, type, true)
    view.setUint32(at + 4, tag === 258 ? 4 : 1, true)
    // A SHORT value sits in the first two bytes of the 4-byte value field.
    if (type === SHORT && tag !== 258) view.setUint16(at + 8, value, true)
    else view.setUint32(at + 8, value, true)
  })
  for (let sample = 0; sample < 4; sample++)
    view.setUint16(bitsPerSampleOffset + sample * 2, 8, true)
  for (let pixel = 0; pixel < width * height; pixel++) bytes.set(ink, stripOffset + pixel * 4)

  return bytes
}
