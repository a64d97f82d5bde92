/**
 * Masked-entity canvases: the CLIP image encoder's input for one segmentation proposal.
 *
 * The proposal's box is centred on a square canvas with a margin, and every pixel outside the
 * mask, margin included, takes a fill colour (CLIP's mean colour by default, which normalises
 * to about 0). The encoder input so shows the entity's shape and appearance without its
 * surroundings, and the square canvas keeps the aspect ratio through CLIP's resize and crop.
 *
 * Canvases wider than `2 × REDUCING_GAP × 224` are box-averaged by an integer factor while they
 * are drawn, which leaves a side between `REDUCING_GAP × 224` and twice that, so the bicubic
 * resize that follows stays cheap. Pillow's `reducing_gap` option reduces the same way. The
 * result is close to a direct bicubic resize of the full canvas, though not identical.
 */
import type { GrayMask, RgbImage } from '../../image/types.ts'
import type { PixelBox } from '../../pipeline/types.ts'
import { CLIP_IMAGE_SIZE, CLIP_MEAN } from '../../tensor/clip-preprocess.ts'

/** A segmentation proposal as alignment reads it; segment's `MaskProposal` fits this shape. */
export interface ProposalMask {
  /** Box `[x0, y0, x1, y1]` around the mask in image pixels, x1 and y1 exclusive. */
  readonly bbox: PixelBox
  /**
   * Mask cropped to `bbox`: (x1 − x0) × (y1 − y0) bytes, row-major; a byte of 128 or more is
   * inside the entity.
   */
  readonly boxMask: Uint8Array
}

/** Options of `renderMaskedCanvas`. */
export interface MaskedCanvasOptions {
  /** Margin on each side, as a fraction of the box's longer side; default 0.1. */
  readonly marginFraction?: number
  /** RGB colour of every pixel outside the mask; default `CLIP_MEAN_FILL`. */
  readonly fill?: readonly [number, number, number]
}

/** CLIP's mean colour in 0–255 RGB (`round(255 × CLIP_MEAN)`). */
export const CLIP_MEAN_FILL: readonly [number, number, number] = [
  Math.round(255 * CLIP_MEAN[0]),
  Math.round(255 * CLIP_MEAN[1]),
  Math.round(255 * CLIP_MEAN[2]),
]

/** Default margin around the box on each side, as a fraction of its longer side. */
export const DEFAULT_MARGIN_FRACTION = 0.1

/** Mask bytes at or above this value are inside the entity. */
export const MASK_INSIDE_MIN = 128

/** Smallest ratio of a reduced canvas side to the CLIP input side. */
const REDUCING_GAP = 2

/**
 * Draws the masked-entity canvas of one proposal: a square RGB image with the entity centred.
 *
 * @throws RangeError when the box lies outside the image or `boxMask` does not match it.
 */
export function renderMaskedCanvas(
  image: RgbImage,
  proposal: ProposalMask,
  options: MaskedCanvasOptions = {}
): RgbImage {
  const { marginFraction = DEFAULT_MARGIN_FRACTION, fill = CLIP_MEAN_FILL } = options
  assertProposalFits(image, proposal)

  const layout = layOutCanvas(proposal.bbox, marginFraction)
  const sums = sumBlocks(image, proposal, layout, fill)

  const blockArea = layout.factor * layout.factor
  const data = new Uint8Array(sums.length)
  for (let i = 0; i < sums.length; i++) data[i] = Math.round((sums[i] as number) / blockArea)
  return { data, width: layout.drawnSide, height: layout.drawnSide }
}

/** Position of the box on the full-resolution canvas, and the canvas's reduction factor. */
interface CanvasLayout {
  /** Full-resolution position of the box's top-left pixel. */
  readonly left: number
  readonly top: number
  /** Each drawn pixel averages a factor × factor block of the full-resolution canvas. */
  readonly factor: number
  readonly drawnSide: number
}

function layOutCanvas(bbox: PixelBox, marginFraction: number): CanvasLayout {
  const [x0, y0, x1, y1] = bbox
  const longer = Math.max(x1 - x0, y1 - y0)
  const side = longer + 2 * Math.round(longer * marginFraction)
  const factor = Math.max(1, Math.floor(side / (REDUCING_GAP * CLIP_IMAGE_SIZE)))

  return {
    left: Math.floor((side - (x1 - x0)) / 2),
    top: Math.floor((side - (y1 - y0)) / 2),
    factor,
    drawnSide: Math.ceil(side / factor),
  }
}

/** Sums every block of the full-resolution canvas, per channel, fill included. */
function sumBlocks(
  image: RgbImage,
  proposal: ProposalMask,
  layout: CanvasLayout,
  fill: readonly [number, number, number]
): Uint32Array {
  const [x0, y0, x1, y1] = proposal.bbox
  const boxWidth = x1 - x0
  const { left, top, factor, drawnSide } = layout
  const [fillRed, fillGreen, fillBlue] = fill
  const blockArea = factor * factor

  const sums = new Uint32Array(drawnSide * drawnSide * 3)
  for (let i = 0; i < sums.length; i += 3) {
    sums[i] = fillRed * blockArea
    sums[i + 1] = fillGreen * blockArea
    sums[i + 2] = fillBlue * blockArea
  }

  // Byte offset of each box column's block within a drawn row.
  const columnOffsets = Int32Array.from(
    { length: boxWidth },
    (_, x) => Math.floor((left + x) / factor) * 3
  )
  for (let y = 0; y < y1 - y0; y++) {
    const rowOffset = Math.floor((top + y) / factor) * drawnSide * 3
    const maskRow = y * boxWidth
    let source = ((y0 + y) * image.width + x0) * 3
    for (let x = 0; x < boxWidth; x++, source += 3) {
      if ((proposal.boxMask[maskRow + x] as number) < MASK_INSIDE_MIN) continue
      // Replace this pixel's share of the fill with the image pixel.
      const target = rowOffset + (columnOffsets[x] as number)
      sums[target] = (sums[target] as number) - fillRed + (image.data[source] as number)
      sums[target + 1] =
        (sums[target + 1] as number) - fillGreen + (image.data[source + 1] as number)
      sums[target + 2] =
        (sums[target + 2] as number) - fillBlue + (image.data[source + 2] as number)
    }
  }
  return sums
}

function assertProposalFits(image: RgbImage, proposal: ProposalMask): void {
  const [x0, y0, x1, y1] = proposal.bbox
  const inside = x0 >= 0 && y0 >= 0 && x1 <= image.width && y1 <= image.height
  if (!inside || x1 <= x0 || y1 <= y0) {
    throw new RangeError(
      `Proposal box [${proposal.bbox.join(', ')}] is empty or outside the ` +
        `${image.width}×${image.height} image`
    )
  }
  const expected = (x1 - x0) * (y1 - y0)
  if (proposal.boxMask.length !== expected) {
    throw new RangeError(
      `Proposal mask has ${proposal.boxMask.length} bytes, but its box covers ${expected} pixels`
    )
  }
}

/**
 * Crops a full-image mask to the box of its inside pixels, for masks that come without a
 * box (a caller's mask, for example).
 *
 * @returns null when no pixel is inside.
 */
export function proposalFromGrayMask(mask: GrayMask): (ProposalMask & { area: number }) | null {
  let x0 = mask.width
  let y0 = mask.height
  let x1 = 0
  let y1 = 0
  let area = 0
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if ((mask.data[y * mask.width + x] as number) < MASK_INSIDE_MIN) continue
      area++
      x0 = Math.min(x0, x)
      y0 = Math.min(y0, y)
      x1 = Math.max(x1, x + 1)
      y1 = Math.max(y1, y + 1)
    }
  }
  if (area === 0) return null

  const boxWidth = x1 - x0
  const boxMask = new Uint8Array(boxWidth * (y1 - y0))
  for (let y = y0; y < y1; y++) {
    boxMask.set(mask.data.subarray(y * mask.width + x0, y * mask.width + x1), (y - y0) * boxWidth)
  }
  return { bbox: [x0, y0, x1, y1], boxMask, area }
}
