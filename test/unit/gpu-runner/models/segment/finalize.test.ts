import { describe, expect, it } from 'vitest'

import { DEFAULT_AUTO_MASK_OPTIONS } from '../../../../../gpu-runner/models/segment/auto-mask-options.ts'
import { finalizeProposals } from '../../../../../gpu-runner/models/segment/finalize.ts'
import { expandProposalMask } from '../../../../../gpu-runner/models/segment/proposal.ts'
import { computeSamFrame } from '../../../../../gpu-runner/models/segment/sam-preprocess.ts'
import type { MaskCandidate } from '../../../../../gpu-runner/models/segment/sampling.ts'

const LOW_RES = 256

/**
 * Low-res logits: +8 on the square [from, to)² of the 256 grid, -8 elsewhere, with extra cells
 * set to a sign (an island outside the square, a hole inside it).
 */
function makeLowRes(from: number, to: number, cells: [number, number, number][] = []) {
  const logits = new Float32Array(LOW_RES * LOW_RES).fill(-8)
  for (let y = from; y < to; y++) logits.fill(8, y * LOW_RES + from, y * LOW_RES + to)
  for (const [x, y, value] of cells) logits[y * LOW_RES + x] = value
  return logits
}

function makeCandidate(lowResLogits: Float32Array, predictedIou = 0.9): MaskCandidate {
  return { lowResLogits, box: [0, 0, 1, 1], predictedIou, stabilityScore: 1, point: [0, 0] }
}

const OPTIONS = { ...DEFAULT_AUTO_MASK_OPTIONS, maskThreshold: 0 }

// One 256-grid cell covers 4 × 4 px of the padded 1024 square, so 2 × 2 px of a 512 photo and
// 8 × 8 px of a 2048 photo. An island of one cell is below the minimum region area there
// (512² / 4096 = 64 px and 2048² / 4096 = 1024 px), and so is a hole of one cell.
const ISLAND: [number, number, number] = [200, 200, 8]
const HOLE: [number, number, number] = [80, 80, -8]

describe('finalizeProposals', () => {
  it('cleans a mask at the upright size', () => {
    const frame = computeSamFrame(512, 512)
    const working = { width: 512, height: 512, outputFrame: 'original', isUpright: true } as const

    const [proposal, ...rest] = finalizeProposals(
      [makeCandidate(makeLowRes(40, 120, [ISLAND, HOLE]))],
      { sam: frame, working },
      OPTIONS
    )
    if (proposal === undefined) throw new Error('no proposal')
    const mask = expandProposalMask(proposal, 512, 512)

    expect(rest).toHaveLength(0)
    // Cells 40..119 are pixels 80..239.
    expect(proposal.bbox).toEqual([80, 80, 240, 240])
    // The hole cell (80, 80) is pixels 160..161, the island cell (200, 200) pixels 400..401.
    expect(mask.data[161 * 512 + 161]).toBe(255)
    expect(mask.data[401 * 512 + 401]).toBe(0)
    expect(proposal.area).toBe(160 * 160)
    expect(proposal.boxMask.length).toBe(160 * 160)
  })

  it('keeps holes and islands above the area', () => {
    const frame = computeSamFrame(512, 512)
    const working = { width: 512, height: 512, outputFrame: 'original', isUpright: true } as const

    const [proposal] = finalizeProposals(
      [makeCandidate(makeLowRes(40, 120, [HOLE]))],
      { sam: frame, working },
      { ...OPTIONS, minRegionAreaFraction: 1 / 1_000_000 }
    )
    const mask = expandProposalMask(proposal!, 512, 512)

    expect(mask.data[161 * 512 + 161]).toBe(0)
  })

  it('cleans a large photo in the resized frame', () => {
    const frame = computeSamFrame(2048, 2048)
    const working = { width: 1024, height: 1024, outputFrame: 'resized', isUpright: false } as const

    const [proposal, ...rest] = finalizeProposals(
      [makeCandidate(makeLowRes(40, 120, [ISLAND, HOLE]))],
      { sam: frame, working },
      OPTIONS
    )
    if (proposal === undefined) throw new Error('no proposal')
    const mask = expandProposalMask(proposal, 2048, 2048)

    expect(rest).toHaveLength(0)
    // Cells 40..119 are pixels 320..959 of the 2048 photo.
    expect(proposal.bbox).toEqual([320, 320, 960, 960])
    // The hole cell (80, 80) is pixels 640..647, the island cell (200, 200) pixels 1600..1607.
    expect(mask.data[643 * 2048 + 643]).toBe(255)
    expect(mask.data[1603 * 2048 + 1603]).toBe(0)
    // Upsampling 1024 → 2048 rounds each corner of the square off by 6 pixels.
    expect(proposal.area).toBe(640 * 640 - 4 * 6)
  })

  it('keeps a large mask at the border', () => {
    const frame = computeSamFrame(2048, 2048)
    const working = { width: 1024, height: 1024, outputFrame: 'resized', isUpright: false } as const

    const [proposal] = finalizeProposals(
      [makeCandidate(makeLowRes(0, 60))],
      { sam: frame, working },
      OPTIONS
    )

    // Cells 0..59 are pixels 0..479; only the corner away from the border is rounded.
    expect(proposal?.bbox).toEqual([0, 0, 480, 480])
    expect(proposal?.area).toBe(480 * 480 - 6)
  })

  it('prefers a mask that needed no clean-up', () => {
    const frame = computeSamFrame(512, 512)
    const working = { width: 512, height: 512, outputFrame: 'original', isUpright: true } as const
    const withIsland = makeCandidate(makeLowRes(40, 120, [ISLAND]), 0.99)
    const clean = makeCandidate(makeLowRes(40, 120), 0.9)

    const proposals = finalizeProposals([withIsland, clean], { sam: frame, working }, OPTIONS)

    expect(proposals).toHaveLength(1)
    expect(proposals[0]?.predictedIou).toBe(0.9)
  })

  it('orders proposals largest first', () => {
    const frame = computeSamFrame(512, 512)
    const working = { width: 512, height: 512, outputFrame: 'original', isUpright: true } as const
    const small = makeCandidate(makeLowRes(10, 30))
    const large = makeCandidate(makeLowRes(100, 200))

    const proposals = finalizeProposals([small, large], { sam: frame, working }, OPTIONS)

    expect(proposals.map((p) => p.bbox)).toEqual([
      [200, 200, 400, 400],
      [20, 20, 60, 60],
    ])
  })

  it('drops masks below the area', () => {
    const frame = computeSamFrame(512, 512)
    const working = { width: 512, height: 512, outputFrame: 'original', isUpright: true } as const

    // One cell is 4 pixels here, under the 64-pixel minimum.
    const proposals = finalizeProposals(
      [makeCandidate(makeLowRes(50, 51))],
      { sam: frame, working },
      OPTIONS
    )

    expect(proposals).toEqual([])
  })
})

describe('expandProposalMask', () => {
  it('pastes the box mask into place', () => {
    const proposal = {
      bbox: [1, 2, 3, 4] as const,
      boxMask: new Uint8Array([255, 0, 0, 255]),
      area: 2,
      predictedIou: 1,
      stabilityScore: 1,
      point: [0, 0] as const,
    }

    const mask = expandProposalMask(proposal, 4, 5)

    expect(Array.from(mask.data)).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 0, 0, 0,
    ])
  })

  it('rejects a box outside the image', () => {
    const proposal = {
      bbox: [1, 2, 5, 4] as const,
      boxMask: new Uint8Array(8),
      area: 0,
      predictedIou: 1,
      stabilityScore: 1,
      point: [0, 0] as const,
    }

    expect(() => expandProposalMask(proposal, 4, 5)).toThrow(RangeError)
  })
})
