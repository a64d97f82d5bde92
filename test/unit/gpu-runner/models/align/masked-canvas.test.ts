import { describe, expect, it } from 'vitest'

import type { GrayMask, RgbImage } from '../../../../../gpu-runner/image/types.ts'
import {
  CLIP_MEAN_FILL,
  proposalFromGrayMask,
  renderMaskedCanvas,
  type ProposalMask,
} from '../../../../../gpu-runner/models/align/masked-canvas.ts'

const RED = [220, 30, 40] as const
const GREEN = [10, 200, 20] as const

/** Builds a green image with a red filled rectangle [x0, y0, x1, y1). */
function makeScene(width: number, height: number, box: readonly number[]): RgbImage {
  const [x0, y0, x1, y1] = box as [number, number, number, number]
  const data = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const colour = x >= x0 && x < x1 && y >= y0 && y < y1 ? RED : GREEN
      data.set(colour, (y * width + x) * 3)
    }
  }
  return { data, width, height }
}

/** Builds a proposal whose mask is its whole box. */
function makeBoxProposal(box: readonly [number, number, number, number]): ProposalMask {
  const area = (box[2] - box[0]) * (box[3] - box[1])
  return { bbox: box, boxMask: new Uint8Array(area).fill(255) }
}

function pixelAt(image: RgbImage, x: number, y: number): number[] {
  const offset = (y * image.width + x) * 3
  return [...image.data.subarray(offset, offset + 3)]
}

describe('renderMaskedCanvas', () => {
  it('centres the box with a margin', () => {
    // Box 20×10: longer side 20, margin round(0.1 × 20) = 2, so the canvas is 24×24 and the
    // box starts at ((24 − 20) / 2, (24 − 10) / 2) = (2, 7).
    const image = makeScene(50, 40, [5, 8, 25, 18])
    const canvas = renderMaskedCanvas(image, makeBoxProposal([5, 8, 25, 18]))

    expect([canvas.width, canvas.height]).toEqual([24, 24])
    expect(pixelAt(canvas, 2, 7)).toEqual([...RED])
    expect(pixelAt(canvas, 21, 16)).toEqual([...RED])
    expect(pixelAt(canvas, 1, 7)).toEqual([...CLIP_MEAN_FILL])
    expect(pixelAt(canvas, 2, 6)).toEqual([...CLIP_MEAN_FILL])
    expect(pixelAt(canvas, 22, 16)).toEqual([...CLIP_MEAN_FILL])
    expect(pixelAt(canvas, 2, 17)).toEqual([...CLIP_MEAN_FILL])
  })

  it('fills pixels outside the mask', () => {
    // The box covers green and red pixels, but only the left half of the box is masked.
    const image = makeScene(30, 30, [10, 10, 20, 20])
    const boxMask = new Uint8Array(20 * 20)
    for (let y = 0; y < 20; y++) boxMask.fill(255, y * 20, y * 20 + 10)
    const canvas = renderMaskedCanvas(image, { bbox: [5, 5, 25, 25], boxMask }, { fill: [0, 0, 0] })

    // Canvas 24×24, box at (2, 2): box pixel (x, y) is canvas pixel (x + 2, y + 2).
    expect(pixelAt(canvas, 2, 2)).toEqual([...GREEN])
    expect(pixelAt(canvas, 2 + 7, 2 + 7)).toEqual([...RED])
    expect(pixelAt(canvas, 2 + 12, 2 + 7)).toEqual([0, 0, 0])
    expect(pixelAt(canvas, 2 + 19, 2 + 19)).toEqual([0, 0, 0])
  })

  it('draws the same canvas anywhere', () => {
    const first = renderMaskedCanvas(
      makeScene(100, 80, [10, 5, 40, 25]),
      makeBoxProposal([10, 5, 40, 25])
    )
    const second = renderMaskedCanvas(
      makeScene(100, 80, [60, 50, 90, 70]),
      makeBoxProposal([60, 50, 90, 70])
    )

    expect(second).toEqual(first)
  })

  it('box-averages a large canvas', () => {
    // Box 1000×500: side 1000 + 2 × 100 = 1200, factor floor(1200 / 448) = 2, so the canvas is
    // 600×600 and the box starts at full-resolution (100, 350), drawn cell (50, 175).
    const image = makeScene(1000, 500, [0, 0, 1000, 500])
    const proposal = makeBoxProposal([0, 0, 1000, 500])
    const canvas = renderMaskedCanvas(image, proposal, { fill: [0, 0, 0] })

    expect([canvas.width, canvas.height]).toEqual([600, 600])
    expect(pixelAt(canvas, 50, 175)).toEqual([...RED])
    expect(pixelAt(canvas, 549, 424)).toEqual([...RED])
    expect(pixelAt(canvas, 49, 175)).toEqual([0, 0, 0])
    expect(pixelAt(canvas, 50, 425)).toEqual([0, 0, 0])
  })

  it('averages a cell cut by the mask edge', () => {
    // Same layout, mask without its first full-resolution column: cell (50, y) contains two
    // masked and two filled pixels, so it is (red + fill) / 2, rounded.
    const image = makeScene(1000, 500, [0, 0, 1000, 500])
    const boxMask = new Uint8Array(1000 * 500).fill(255)
    for (let y = 0; y < 500; y++) boxMask[y * 1000] = 0
    const canvas = renderMaskedCanvas(
      image,
      { bbox: [0, 0, 1000, 500], boxMask },
      { fill: [0, 0, 0] }
    )

    expect(pixelAt(canvas, 50, 200)).toEqual([110, 15, 20])
    expect(pixelAt(canvas, 51, 200)).toEqual([...RED])
  })

  it('rejects a box outside the image', () => {
    const image = makeScene(10, 10, [0, 0, 5, 5])

    expect(() => renderMaskedCanvas(image, makeBoxProposal([5, 5, 12, 8]))).toThrow(RangeError)
  })

  it('rejects a mask of the wrong size', () => {
    const image = makeScene(10, 10, [0, 0, 5, 5])
    const proposal = { bbox: [0, 0, 5, 5] as const, boxMask: new Uint8Array(24) }

    expect(() => renderMaskedCanvas(image, proposal)).toThrow(RangeError)
  })
})

describe('proposalFromGrayMask', () => {
  it('crops a mask to its box', () => {
    const mask: GrayMask = { data: new Uint8Array(8 * 6), width: 8, height: 6 }
    mask.data[1 * 8 + 2] = 255
    mask.data[3 * 8 + 5] = 200
    mask.data[4 * 8 + 7] = 100 // below the inside threshold of 128

    const proposal = proposalFromGrayMask(mask)

    expect(proposal?.bbox).toEqual([2, 1, 6, 4])
    expect(proposal?.area).toBe(2)
    expect(proposal?.boxMask.length).toBe(4 * 3)
    expect(proposal?.boxMask[0]).toBe(255)
    expect(proposal?.boxMask[2 * 4 + 3]).toBe(200)
  })

  it('returns null for an empty mask', () => {
    expect(proposalFromGrayMask({ data: new Uint8Array(16), width: 4, height: 4 })).toBeNull()
  })
})
