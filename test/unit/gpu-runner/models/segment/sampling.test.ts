import { describe, expect, it } from 'vitest'

import {
  DEFAULT_AUTO_MASK_OPTIONS,
  type AutoMaskOptions,
  type GridPass,
} from '../../../../../gpu-runner/models/segment/auto-mask-options.ts'
import type {
  SamDecoder,
  SamPoint,
  SamPrediction,
} from '../../../../../gpu-runner/models/segment/sam-decoder.ts'
import type { SamImageEmbedding } from '../../../../../gpu-runner/models/segment/sam-encoder.ts'
import { computeSamFrame } from '../../../../../gpu-runner/models/segment/sam-preprocess.ts'
import {
  chooseWorkingFrame,
  collectCandidates,
} from '../../../../../gpu-runner/models/segment/sampling.ts'

// The real decoder's masks cannot be chosen per point, so these tests drive the sampling rules
// with a scripted decoder. Each prompt yields a disc of radius 12 px around the point, with
// hard ±10 logits (stability score 1) and a chosen predicted IoU.

const WIDTH = 120
const HEIGHT = 90
const EMBEDDING: SamImageEmbedding = {
  data: new Float32Array(0),
  frame: computeSamFrame(WIDTH, HEIGHT),
}

interface ScriptedDecoder extends SamDecoder {
  readonly calls: { point: SamPoint; multimask: boolean }[]
}

function makeDecoder(iou: { multimask: number; single: number }, softness = 0): ScriptedDecoder {
  const calls: { point: SamPoint; multimask: boolean }[] = []
  return {
    calls,
    maskThreshold: 0,
    predict: async (_embedding, points, options = {}): Promise<SamPrediction> => {
      const point = points[0] as SamPoint
      const multimask = options.multimask ?? true
      calls.push({ point, multimask })
      const logits = new Float32Array(WIDTH * HEIGHT)
      for (let y = 0; y < HEIGHT; y++) {
        for (let x = 0; x < WIDTH; x++) {
          const inside = Math.hypot(x - point.x, y - point.y) < 12
          // A soft mask has logits within ±softness of the threshold everywhere.
          const magnitude = softness > 0 ? softness : 10
          logits[y * WIDTH + x] = inside ? magnitude : -magnitude
        }
      }
      const predictedIou = multimask ? iou.multimask : iou.single
      const candidate = { logits, lowResLogits: new Float32Array(256 * 256), predictedIou }
      return { candidates: [candidate], width: WIDTH, height: HEIGHT }
    },
  }
}

function makeOptions(overrides: Partial<AutoMaskOptions> = {}, pass: Partial<GridPass> = {}) {
  const basePass: GridPass = { pointsPerSide: 2, skipCovered: false, singleMask: 'never' }
  return {
    ...DEFAULT_AUTO_MASK_OPTIONS,
    passes: [{ ...basePass, ...pass }],
    ...overrides,
  }
}

describe('chooseWorkingFrame', () => {
  it('keeps small photos upright', () => {
    expect(chooseWorkingFrame(EMBEDDING)).toEqual({
      width: 120,
      height: 90,
      outputFrame: 'original',
      isUpright: true,
    })
  })

  it('samples large photos resized', () => {
    const embedding = { data: new Float32Array(0), frame: computeSamFrame(3295, 1846) }

    expect(chooseWorkingFrame(embedding)).toEqual({
      width: 1024,
      height: 574,
      outputFrame: 'resized',
      isUpright: false,
    })
  })
})

describe('collectCandidates', () => {
  it('prompts each grid point once', async () => {
    const decoder = makeDecoder({ multimask: 0.99, single: 0.99 })

    const result = await collectCandidates(decoder, EMBEDDING, makeOptions())

    // A 2-per-side grid on a 4:3 image has 2 columns and 2 rows (computeGridShape).
    expect(decoder.calls.map((call) => [call.point.x, call.point.y])).toEqual([
      [30, 22.5],
      [90, 22.5],
      [30, 67.5],
      [90, 67.5],
    ])
    expect(result.stats.decoderCalls).toBe(4)
    expect(result.candidates).toHaveLength(4)
    // |x - 30| < 12 gives x 19..41 and |y - 22.5| < 12 gives y 11..34, both inclusive.
    expect(result.candidates[0]?.box).toEqual([19, 11, 42, 35])
  })

  it('asks for the single mask when uncertain', async () => {
    const decoder = makeDecoder({ multimask: 0.85, single: 0.9 })

    const result = await collectCandidates(
      decoder,
      EMBEDDING,
      makeOptions({}, { singleMask: 'when-uncertain' })
    )

    expect(decoder.calls.map((call) => call.multimask)).toEqual([
      true,
      false,
      true,
      false,
      true,
      false,
      true,
      false,
    ])
    expect(result.stats.decoderCalls).toBe(8)
    expect(result.candidates).toHaveLength(8)
  })

  it('skips the single mask when confident', async () => {
    const decoder = makeDecoder({ multimask: 0.95, single: 0.9 })

    await collectCandidates(decoder, EMBEDDING, makeOptions({}, { singleMask: 'when-uncertain' }))

    expect(decoder.calls.every((call) => call.multimask)).toBe(true)
  })

  it('stops at the call budget', async () => {
    const decoder = makeDecoder({ multimask: 0.85, single: 0.9 })

    const result = await collectCandidates(
      decoder,
      EMBEDDING,
      makeOptions({ maxDecoderCalls: 3 }, { singleMask: 'always' })
    )

    expect(result.stats.decoderCalls).toBe(3)
    expect(decoder.calls).toHaveLength(3)
  })

  it('rejects masks below the IoU filter', async () => {
    const decoder = makeDecoder({ multimask: 0.5, single: 0.5 })

    const result = await collectCandidates(decoder, EMBEDDING, makeOptions())

    expect(result.candidates).toHaveLength(0)
    expect(result.stats.rejectedByIou).toBe(4)
  })

  it('rejects unstable masks', async () => {
    // Logits of ±0.5 fall inside the ±1 band, so the high cut keeps nothing: stability 0.
    const decoder = makeDecoder({ multimask: 0.99, single: 0.99 }, 0.5)

    const result = await collectCandidates(decoder, EMBEDDING, makeOptions())

    expect(result.candidates).toHaveLength(0)
    expect(result.stats.rejectedByStability).toBe(4)
  })

  it('skips points inside accepted masks', async () => {
    const decoder = makeDecoder({ multimask: 0.99, single: 0.99 })
    const options = {
      ...makeOptions(),
      passes: [
        { pointsPerSide: 2, skipCovered: false, singleMask: 'never' },
        { pointsPerSide: 6, skipCovered: true, singleMask: 'never' },
      ] satisfies GridPass[],
    }

    const result = await collectCandidates(decoder, EMBEDDING, options)

    // The 6-per-side grid on 120x90 has 7 × 5 points at x = 120(i + 0.5)/7, y = 90(j + 0.5)/5.
    // One falls in each first-pass disc: pixel (25, 27) in the disc at (30, 22.5), (94, 27) in
    // the disc at (90, 22.5), and (25, 63) and (94, 63) in the lower two.
    expect(result.stats.skippedPoints).toBe(4)
    expect(result.stats.decoderCalls).toBe(4 + 35 - 4)
  })
})
