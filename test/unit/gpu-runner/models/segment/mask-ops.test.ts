import { describe, expect, it } from 'vitest'

import {
  computeMaskBox,
  computeStabilityScore,
  countMaskArea,
  measureLogitMask,
  resizeLogitsBilinear,
  thresholdLogits,
} from '../../../../../gpu-runner/models/segment/mask-ops.ts'

/** Cone of logits: 8 at (20.3, 17.8), falling 0.6 per pixel of distance, on a 50x40 grid. */
function makeConeLogits(): Float32Array {
  const logits = new Float32Array(50 * 40)
  for (let y = 0; y < 40; y++) {
    for (let x = 0; x < 50; x++) {
      logits[y * 50 + x] = 8 - Math.fround(Math.hypot(x - 20.3, y - 17.8)) * 0.6
    }
  }
  return logits
}

describe('thresholdLogits', () => {
  it('keeps only values above the threshold', () => {
    const mask = thresholdLogits(new Float32Array([-1, 0, 1e-6, 2, NaN]), 0)

    expect(Array.from(mask)).toEqual([0, 0, 1, 1, 0])
  })
})

describe('computeStabilityScore', () => {
  // Reference: calculate_stability_score(logits[None], 0.0, offset) in segment-anything
  // utils/amg.py on the same cone built with torch, which printed 0.598025381565094 (offset 1)
  // and 0.7850318551063538 (offset 0.5).
  it('matches the reference at offset 1', () => {
    expect(computeStabilityScore(makeConeLogits(), 0, 1)).toBeCloseTo(0.598025381565094, 6)
  })

  it('matches the reference at offset 0.5', () => {
    expect(computeStabilityScore(makeConeLogits(), 0, 0.5)).toBeCloseTo(0.7850318551063538, 6)
  })

  it('is 1 for a hard-edged mask', () => {
    const logits = new Float32Array([-20, -20, 20, 20, 20, -20])

    expect(computeStabilityScore(logits, 0, 1)).toBe(1)
  })

  it('is 0 when nothing passes the low cut', () => {
    expect(computeStabilityScore(new Float32Array([-5, -3]), 0, 1)).toBe(0)
  })
})

describe('computeMaskBox', () => {
  it('returns an exclusive box', () => {
    // 5x4 mask with pixels at (1, 1), (3, 1) and (2, 2).
    const data = new Uint8Array(20)
    data[1 * 5 + 1] = 1
    data[1 * 5 + 3] = 1
    data[2 * 5 + 2] = 1

    expect(computeMaskBox({ data, width: 5, height: 4 })).toEqual([1, 1, 4, 3])
  })

  it('covers the whole image for a full mask', () => {
    const data = new Uint8Array(6).fill(1)

    expect(computeMaskBox({ data, width: 3, height: 2 })).toEqual([0, 0, 3, 2])
  })

  it('returns null for an empty mask', () => {
    expect(computeMaskBox({ data: new Uint8Array(12), width: 4, height: 3 })).toBeNull()
  })
})

describe('countMaskArea', () => {
  it('counts inside pixels', () => {
    expect(countMaskArea(new Uint8Array([0, 1, 1, 0, 1]))).toBe(3)
  })
})

describe('resizeLogitsBilinear', () => {
  // Reference: torch.nn.functional.interpolate(mode='bilinear', align_corners=False), torch 1.13.1.
  it('upsamples like PyTorch', () => {
    const source = new Float32Array([0, 1, 4, 2, -3, 5])
    const expected = [
      [
        0.0, 0.1428571492433548, 0.5714285969734192, 1.0, 2.2857143878936768, 3.5714285373687744,
        4.0,
      ],
      [
        0.5, 0.4285714328289032, 0.2142857164144516, 6.332993507385254e-8, 1.8214287757873535,
        3.642857074737549, 4.25,
      ],
      [
        1.5, 0.9999999403953552, -0.5000001788139343, -1.9999998807907104, 0.8928573727607727,
        3.7857141494750977, 4.75,
      ],
      [
        2.0, 1.2857142686843872, -0.8571430444717407, -3.0, 0.4285717010498047, 3.857142925262451,
        5.0,
      ],
    ].flat()

    const resized = resizeLogitsBilinear(source, { width: 3, height: 2 }, { width: 7, height: 4 })

    expect(resized.length).toBe(28)
    resized.forEach((value, i) => expect(value).toBeCloseTo(expected[i] ?? NaN, 5))
  })

  it('downsamples like PyTorch', () => {
    const source = Float32Array.from({ length: 48 }, (_, i) => i)
    const expected = [
      2.8333332538604736, 5.5, 8.166666984558105, 14.833333015441895, 17.5, 20.166667938232422,
      26.833332061767578, 29.5, 32.16666793823242, 38.83333206176758, 41.5, 44.16666793823242,
    ]

    const resized = resizeLogitsBilinear(source, { width: 8, height: 6 }, { width: 3, height: 4 })

    resized.forEach((value, i) => expect(value).toBeCloseTo(expected[i] ?? NaN, 5))
  })

  it('keeps values at the same size', () => {
    const source = new Float32Array([1, -2, 3, 4.5])

    expect(resizeLogitsBilinear(source, { width: 2, height: 2 }, { width: 2, height: 2 })).toEqual(
      source
    )
  })
})

describe('measureLogitMask', () => {
  it('agrees with the separate measures', () => {
    const logits = makeConeLogits()
    const mask = thresholdLogits(logits, 0)

    const measured = measureLogitMask(logits, 50, { threshold: 0, offset: 1 })

    expect(measured.stabilityScore).toBe(computeStabilityScore(logits, 0, 1))
    expect(measured.box).toEqual(computeMaskBox({ data: mask, width: 50, height: 40 }))
    expect(measured.area).toBe(countMaskArea(mask))
  })

  it('returns no box for an empty mask', () => {
    const measured = measureLogitMask(new Float32Array([-0.5, -2, -3, -0.1]), 2, {
      threshold: 0,
      offset: 1,
    })

    expect(measured).toEqual({ stabilityScore: 0, box: null, area: 0 })
  })
})

describe('resizeLogitsBilinear with an offset crop', () => {
  it('equals the cropped full result', () => {
    const source = Float32Array.from({ length: 48 }, (_, i) => Math.cos(i))
    const full = resizeLogitsBilinear(source, { width: 8, height: 6 }, { width: 20, height: 15 })

    const cropped = resizeLogitsBilinear(
      source,
      { width: 8, height: 6 },
      { width: 20, height: 15 },
      { x: 5, y: 9, width: 6, height: 3 }
    )

    const expected = [9, 10, 11].flatMap((y) => Array.from(full.subarray(y * 20 + 5, y * 20 + 11)))
    expect(Array.from(cropped)).toEqual(expected)
  })
})

describe('resizeLogitsBilinear with a crop', () => {
  it('equals the cropped full result', () => {
    const source = Float32Array.from({ length: 48 }, (_, i) => Math.sin(i))
    const full = resizeLogitsBilinear(source, { width: 8, height: 6 }, { width: 20, height: 15 })

    const cropped = resizeLogitsBilinear(
      source,
      { width: 8, height: 6 },
      { width: 20, height: 15 },
      { width: 7, height: 4 }
    )

    const expected = [0, 1, 2, 3].flatMap((y) => Array.from(full.subarray(y * 20, y * 20 + 7)))
    expect(Array.from(cropped)).toEqual(expected)
  })
})
