/**
 * The segmentation proposal type and helpers to use its box-cropped mask.
 */
import type { GrayMask } from '../../image/types.ts'
import type { PixelBox } from '../../pipeline/types.ts'

/** One segmentation proposal in upright image pixels. */
export interface MaskProposal {
  /** Box `[x0, y0, x1, y1]` around the mask, x1 and y1 exclusive. */
  readonly bbox: PixelBox
  /**
   * Mask cropped to `bbox`: (x1 - x0) × (y1 - y0) bytes, row-major, 255 inside and 0 outside;
   * byte (x, y) is pixel (x0 + x, y0 + y) of the image.
   */
  readonly boxMask: Uint8Array
  /** Pixels inside the mask. */
  readonly area: number
  /** The decoder's estimate of the mask's IoU with the entity, usually in [0, 1]. */
  readonly predictedIou: number
  readonly stabilityScore: number
  /** Grid point that prompted the mask, upright pixels. */
  readonly point: readonly [number, number]
}

/**
 * Pastes a proposal's box-cropped mask into a full-size mask of `width` × `height`.
 *
 * @throws RangeError when the box does not fit the image.
 */
export function expandProposalMask(
  proposal: MaskProposal,
  width: number,
  height: number
): GrayMask {
  const [x0, y0, x1, y1] = proposal.bbox
  if (x0 < 0 || y0 < 0 || x1 > width || y1 > height || x1 <= x0 || y1 <= y0) {
    throw new RangeError(
      `Proposal box [${proposal.bbox.join(', ')}] does not fit ${width}x${height}.`
    )
  }

  const data = new Uint8Array(width * height)
  const boxWidth = x1 - x0
  for (let y = y0; y < y1; y++) {
    data.set(
      proposal.boxMask.subarray((y - y0) * boxWidth, (y - y0 + 1) * boxWidth),
      y * width + x0
    )
  }
  return { data, width, height }
}
